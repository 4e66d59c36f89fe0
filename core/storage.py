"""Where uploaded files (condition-report photos) are kept: one small boundary, `Storage`, so that production can put
them in an object store; the default keeps them in a local directory.

Keys are the content's SHA-256 with its extension: the same photo uploaded twice is stored once, and a key cannot
name anything outside the directory."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Protocol

KEY = re.compile(r"^[0-9a-f]{64}\.(jpg|png)$")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}
CONTENT_TYPES = {extension: content_type for content_type, extension in EXTENSIONS.items()}


class Storage(Protocol):
    async def put(self, data: bytes, *, content_type: str) -> str: ...

    async def get(self, key: str) -> tuple[bytes, str] | None: ...


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are (JPEG or PNG), whatever the upload claimed."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


class LocalStorage:
    """A directory on this machine (the default: `MAEUL_STORAGE_DIR`, else `.maeul/photos`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def put(self, data: bytes, *, content_type: str) -> str:
        key = f"{hashlib.sha256(data).hexdigest()}.{EXTENSIONS[content_type]}"
        await asyncio.to_thread(self._write, key, data)
        return key

    def _write(self, key: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / key
        if not target.exists():
            partial = target.with_suffix(".partial")
            partial.write_bytes(data)
            partial.replace(target)  # atomic: a reader never sees half a photo

    async def get(self, key: str) -> tuple[bytes, str] | None:
        if not KEY.match(key):
            return None
        path = self.directory / key
        if not path.exists():
            return None
        return await asyncio.to_thread(path.read_bytes), CONTENT_TYPES[key.rsplit(".", 1)[1]]
