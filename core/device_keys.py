"""Keys of the devices that post to maeul (vehicles' IoT modules, village cameras): shown once, stored as a digest,
rotatable and revocable. 32 random bytes: high entropy, so a fast hash (SHA-256) is enough."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_key() -> str:
    return secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def matches(stored: str | None, key: str) -> bool:
    """Does `key` match the stored digest? False when the key was revoked (no digest)."""
    return stored is not None and hmac.compare_digest(stored, digest(key))
