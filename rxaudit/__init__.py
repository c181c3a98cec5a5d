"""rxaudit, the floor: domain model, settings, exception tree, security, hashing, limits and bounds.
May import no other package of this project."""

__version__ = "0.1.0"
