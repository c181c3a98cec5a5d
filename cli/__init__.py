"""The ``rxaudit`` command line: ``cli.main`` and one module per command group (``register``).
May import every room; nothing imports it."""
