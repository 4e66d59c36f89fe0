"""Where uploaded files (condition-report photos) are kept: one small boundary, `Storage`. The default keeps them in a
local directory; production puts them in an S3-compatible object store (AWS S3, MinIO, Ceph, NCloud Object Storage)
with `MAEUL_STORAGE_URL=s3://bucket/prefix` (and `MAEUL_STORAGE_ENDPOINT_URL` for a store that is not AWS; the
credentials come from the usual AWS settings: environment, profile or instance role).

Keys are the content's SHA-256 with its extension: the same photo uploaded twice is stored once, and a key cannot
name anything outside the directory."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from core.settings import Settings

KEY = re.compile(r"^[0-9a-f]{64}\.(jpg|png)$")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}
CONTENT_TYPES = {extension: content_type for content_type, extension in EXTENSIONS.items()}


class Storage(Protocol):
    async def put(self, data: bytes, *, content_type: str) -> str: ...

    async def get(self, key: str) -> tuple[bytes, str] | None: ...

    async def delete(self, key: str) -> None: ...


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are (JPEG or PNG), whatever the upload claimed."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


class LocalStorage:
    """A directory on this machine (the default: `.maeul/photos`, or the directory `MAEUL_STORAGE_URL` names)."""

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
            # a temporary file of this write's own: concurrent uploads of the same photo wrote one shared
            # `.partial`, and one could move the other's half-written file into place
            descriptor, partial = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.", suffix=".partial")
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(data)
                os.replace(partial, target)  # atomic: a reader never sees half a photo
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(partial)
                raise

    async def get(self, key: str) -> tuple[bytes, str] | None:
        if not KEY.match(key):
            return None
        path = self.directory / key
        if not path.exists():
            return None
        return await asyncio.to_thread(path.read_bytes), CONTENT_TYPES[key.rsplit(".", 1)[1]]

    async def delete(self, key: str) -> None:
        if KEY.match(key):
            await asyncio.to_thread((self.directory / key).unlink, missing_ok=True)


class S3Storage:
    """An S3-compatible bucket (boto3; its blocking calls run in a thread)."""

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None = None, region: str | None = None) -> None:
        import boto3

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, data: bytes, *, content_type: str) -> str:
        key = f"{hashlib.sha256(data).hexdigest()}.{EXTENSIONS[content_type]}"
        await asyncio.to_thread(
            self.client.put_object, Bucket=self.bucket, Key=self._name(key), Body=data, ContentType=content_type
        )
        return key

    async def get(self, key: str) -> tuple[bytes, str] | None:
        if not KEY.match(key):
            return None
        try:
            found = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=self._name(key))
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = await asyncio.to_thread(found["Body"].read)
        return body, CONTENT_TYPES[key.rsplit(".", 1)[1]]

    async def delete(self, key: str) -> None:
        if KEY.match(key):
            await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._name(key))


def configured(settings: Settings) -> Storage:
    """The storage the settings name (`MAEUL_STORAGE_URL` and its endpoint and region)."""
    return storage_for(
        settings.storage_url,
        home=settings.home,
        endpoint_url=settings.storage_endpoint_url,
        region=settings.storage_region,
    )


def storage_for(url: str | None, *, home: Path, endpoint_url: str | None = None, region: str | None = None) -> Storage:
    """`s3://bucket/prefix` -> the bucket; unset -> `home`/photos; any other value is a local directory."""
    if url is None:
        return LocalStorage(home / "photos")
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3Storage(bucket, prefix, endpoint_url=endpoint_url, region=region)
    return LocalStorage(Path(url))
