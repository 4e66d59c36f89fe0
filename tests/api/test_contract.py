"""The published contract holds: schemathesis, with all its checks and phases (stateful included), over the whole
OpenAPI of a running `maeul demo`, once per role and anonymous; zero failures allowed. Only what no schema can state is
declared, with its reason, in `schemathesis.toml` at the project root.

Seed and time budget are fixed (`MAEUL_CONTRACT_SECONDS` per role, default 30) so CI stays well inside its limit;
a failure prints schemathesis' report with a `curl` to reproduce it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from core import services
from core.serving import wait_until_answering
from core.settings import Settings
from sim.pilot import DEMO_PASSWORD
from tests.factories import free_port, start_demo

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = str(Path(sys.executable).parent / "st")
SEED = 2019
SECONDS = int(os.environ.get("MAEUL_CONTRACT_SECONDS", "30"))
ROLES = ["anonymous", "resident", "owner", "operator", "staff", "city", "admin"]


@pytest.fixture(scope="module")
def demo_api(settings: Settings, database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    # schemathesis makes more requests a minute than the rate limits let one account or address (a 429 is not what
    # its checks look for; tests/api/test_protection.py tests the limits)
    unlimited = {"MAEUL_RATE_LIMIT_PER_ACCOUNT": "1000000/minute", "MAEUL_RATE_LIMIT_PER_ADDRESS": "1000000/minute"}
    demo = start_demo(
        settings, "maeul_contract_test", port, tmp_path_factory.mktemp("demo") / "demo.log", env=unlimited
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(demo, f"{base}/health")
        # the worker's first round (partitions, the anchor contract's deployment) is done: the API is in its steady
        # state
        deadline = time.monotonic() + 120
        while httpx.get(f"{base}/ledger/anchoring").json()["anchored_size"] == 0:
            assert time.monotonic() < deadline, "the demo never anchored"
            time.sleep(0.5)
        yield base
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
        services.drop_database(settings, "maeul_contract_test")


def test_every_error_response_is_the_shared_error_schema():
    document = create_app().openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    codes = schemas["ErrorOut"]["properties"]["error"]["enum"]
    assert {"invalid_request", "slot_unavailable", "service_unavailable", "method_not_allowed"} <= set(codes)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = {int(status) for status in operation["responses"]}
            assert 503 in statuses, (method, path)
            if operation.get("parameters") or "requestBody" in operation:
                assert 422 in statuses, (method, path)
            if operation.get("security"):
                assert {401, 403} <= statuses, (method, path)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)
                    assert response["description"], (method, path, status)


def test_every_bound_is_stated_in_json_schema_words():
    """Bounds are `minimum`/`maximum`/`minLength`... : pydantic's own names (`ge`, `le`, ...) in the document are
    bounds no client or fuzzer reads (FastAPI writes them so for a query parameter whose type puts a validator before
    its Field; schemathesis then sent a longitude of 6e16 as valid)."""
    pydantic_words = {"ge", "le", "gt", "lt", "min_length", "max_length", "multiple_of"}
    found = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            found.extend(f"{where}.{key}" for key in pydantic_words & node.keys())
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(create_app().openapi(), "")
    assert not found, found


def test_the_committed_contract_is_current():
    """`openapi.json` in the repository is what the API serves: a change to the contract shows in review."""
    committed = json.loads((ROOT / "openapi.json").read_text())
    assert committed == create_app().openapi(), "the API changed: run `make openapi` and commit openapi.json"


@pytest.mark.parametrize("role", ROLES)
def test_schemathesis_finds_nothing(demo_api: str, role: str, tmp_path: Path):
    # the role signs in through the API, again whenever a token stops working (schemathesis signs itself out too)
    config = tmp_path / "schemathesis.toml"
    signing_in = f"""
[auth.dynamic.openapi.OAuth2PasswordBearer]
path = "/auth/token"
payload = {{ username = "{role}@maeul.demo", password = "{DEMO_PASSWORD}" }}
payload_content_type = "application/x-www-form-urlencoded"
extract_selector = "/access_token"
retry_on = [401]
"""
    config.write_text((ROOT / "schemathesis.toml").read_text() + (signing_in if role != "anonymous" else ""))
    run = subprocess.run(
        [
            SCHEMATHESIS,
            "--config-file",
            str(config),
            "run",
            f"{demo_api}/openapi.json",
            "--checks",
            "all",
            "--seed",
            str(SEED),
            "--max-time",
            str(SECONDS),
            "--workers",
            "1",  # hypothesis' lambda descriptions are not thread-safe on Python 3.11
            "--output-truncate",
            "true",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SECONDS * 4 + 120,
    )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
