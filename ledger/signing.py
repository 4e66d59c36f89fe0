"""Ed25519 signatures over tree heads.

The signed message is fixed-width binary, so any verifier can rebuild it:
b"maeul-sth-v1\\x00" || tree_size (uint64, big-endian) || timestamp in ms since the epoch (uint64, big-endian) || root
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.settings import Settings, kept_secret

DOMAIN = b"maeul-sth-v1\x00"


def tree_head_message(size: int, issued_at: datetime, root: bytes) -> bytes:
    millis = int(issued_at.astimezone(UTC).timestamp() * 1000)
    return DOMAIN + struct.pack(">QQ", size, millis) + root


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Signer:
    private_key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: bytes) -> Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """The key kept in `path` (base64 seed), created on first use: for a developer's machine."""
        seed = kept_secret(path, lambda: base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode())
        return cls.from_seed(base64.b64decode(seed))

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, size: int, issued_at: datetime, root: bytes) -> bytes:
        return self.private_key.sign(tree_head_message(size, issued_at, root))


def signer_for(settings: Settings) -> Signer:
    """`MAEUL_LEDGER_SIGNING_KEY`, or on a developer's machine a key kept under `MAEUL_HOME`."""
    seed = settings.ledger_key_seed()
    return Signer.from_seed(seed) if seed is not None else Signer.from_file(settings.home / "ledger-key")


def verify_tree_head(public_key: bytes, size: int, issued_at: datetime, root: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, tree_head_message(size, issued_at, root))
    except (InvalidSignature, ValueError):
        return False
    return True
