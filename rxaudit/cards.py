"""Keyed hashing of card ids: the clear card number never leaves ingest."""

from __future__ import annotations

import hashlib
import hmac


def hash_card(card_id: str, key: bytes) -> str:
    """HMAC-SHA256 of the normalised card id, hex. Same card + same key -> same hash."""
    normalised = "".join(card_id.split()).upper()
    if not normalised:
        raise ValueError("card_id is empty")
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()
