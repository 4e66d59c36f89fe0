"""The storage boundary for uploaded photos: a local directory, and an S3-compatible bucket (a moto S3 server on
loopback); and the photos endpoint through HTTP."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from accounts.models import Role
from api.state import AppState
from core.storage import LocalStorage, S3Storage, Storage, storage_for
from tests.factories import auth, free_port, make_account

# the smallest valid PNG (1x1, transparent)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="ap-northeast-2",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="maeul-photos", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    yield endpoint
    server.stop()


async def _round_trip(storage: Storage) -> None:
    key = await storage.put(PNG, content_type="image/png")
    assert key.endswith(".png") and len(key) == 64 + 4
    assert await storage.put(PNG, content_type="image/png") == key  # the same photo is kept once
    assert await storage.get(key) == (PNG, "image/png")
    other = await storage.put(JPEG, content_type="image/jpeg")
    assert other.endswith(".jpg") and await storage.get(other) == (JPEG, "image/jpeg")
    assert await storage.get("0" * 64 + ".png") is None  # never stored
    assert await storage.get("../../etc/passwd") is None  # not a key: nothing outside is ever named
    third = await storage.put(JPEG + b"\x01", content_type="image/jpeg")
    await storage.delete(third)
    await storage.delete(third)  # gone already: nothing to do
    await storage.delete("../../etc/passwd")  # not a key: nothing outside is ever named
    assert await storage.get(third) is None


async def test_a_local_directory(tmp_path: Path):
    await _round_trip(LocalStorage(tmp_path / "photos"))
    assert len(list((tmp_path / "photos").iterdir())) == 2


async def test_concurrent_uploads_of_one_photo_never_mix_their_partial_files(tmp_path: Path):
    """Each write has a temporary file of its own (concurrent identical uploads shared one `.partial`): every put
    lands whole, and nothing temporary is left behind."""
    storage = LocalStorage(tmp_path / "photos")
    big = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4096  # 1 MB: writes that take a while
    keys = await asyncio.gather(*(storage.put(big, content_type="image/jpeg") for _ in range(16)))
    assert len(set(keys)) == 1
    assert await storage.get(keys[0]) == (big, "image/jpeg")
    assert [path.name for path in (tmp_path / "photos").iterdir()] == [keys[0]]


async def test_an_s3_compatible_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    storage = storage_for(
        "s3://maeul-photos/condition", home=Path("."), endpoint_url=s3_endpoint, region="ap-northeast-2"
    )
    assert isinstance(storage, S3Storage)
    await _round_trip(storage)
    names = boto3.client("s3", endpoint_url=s3_endpoint, region_name="ap-northeast-2").list_objects_v2(
        Bucket="maeul-photos"
    )
    assert sorted(o["Key"].split("/")[0] for o in names["Contents"]) == ["condition", "condition"]


async def test_photos_through_http(client: httpx.AsyncClient, session, state: AppState):  # type: ignore[no-untyped-def]
    resident = await make_account(session)
    operator = await make_account(session, role=Role.OPERATOR)
    await session.commit()
    uploaded = await client.post(
        "/cars/photos", files={"file": ("dent.png", PNG, "image/jpeg")}, headers=auth(state, resident)
    )
    assert uploaded.status_code == 201, uploaded.text
    key = uploaded.json()["key"]
    assert key.endswith(".png")  # the bytes decide, not the claim
    fetched = await client.get(f"/cars/photos/{key}", headers=auth(state, operator))
    assert fetched.status_code == 200 and fetched.content == PNG and fetched.headers["content-type"] == "image/png"
    assert (await client.get(f"/cars/photos/{key}", headers=auth(state, resident))).status_code == 403
    assert (await client.get(f"/cars/photos/{'1' * 64}.png", headers=auth(state, operator))).status_code == 404
    not_an_image = await client.post(
        "/cars/photos", files={"file": ("x.png", b"GIF89a...", "image/png")}, headers=auth(state, resident)
    )
    assert not_an_image.status_code == 422 and not_an_image.json()["error"] == "invalid_photo"
    city = await make_account(session, role=Role.CITY)
    await session.commit()
    refused_city = await client.post("/cars/photos", files={"file": ("x.png", PNG)}, headers=auth(state, city))
    assert refused_city.status_code == 403  # condition reports are the drivers' and the crew's
    too_big = JPEG + b"\x00" * state.settings.photo_max_bytes
    refused = await client.post(
        "/cars/photos", files={"file": ("x.jpg", too_big, "image/jpeg")}, headers=auth(state, resident)
    )
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_photo"


async def test_photo_uploads_are_bounded_per_account_and_day(
    client: httpx.AsyncClient,
    session,
    state: AppState,  # type: ignore[no-untyped-def]
):
    state.settings = state.settings.model_copy(update={"photos_per_day": 2})
    resident = await make_account(session)
    await session.commit()
    for n in range(2):
        taken = await client.post(
            "/cars/photos", files={"file": ("x.jpg", JPEG + bytes([n]))}, headers=auth(state, resident)
        )
        assert taken.status_code == 201, taken.text
    over = await client.post("/cars/photos", files={"file": ("x.jpg", JPEG + b"\x09")}, headers=auth(state, resident))
    assert over.status_code == 429 and over.json()["error"] == "photo_quota_exceeded"
    assert 0 < int(over.headers["retry-after"]) <= 24 * 3600
