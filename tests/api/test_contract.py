"""The published contract holds: schemathesis, with all its checks and phases (stateful included), over the whole
OpenAPI of a running `maeul demo`, once per role and anonymous; zero failures allowed. Only what no schema can state is
declared, with its reason, in `schemathesis.toml` at the project root.

Seed and time budget are fixed (`MAEUL_CONTRACT_SECONDS` per role, default 30; the roles run at once) so CI stays well
inside its limit; a failure prints schemathesis' report with a `curl` to reproduce it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.app import create_app
from sim.pilot import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = str(Path(sys.executable).parent / "st")
SEED = 2019
SECONDS = int(os.environ.get("MAEUL_CONTRACT_SECONDS", "30"))
ROLES = ["anonymous", "resident", "owner", "operator", "staff", "city", "admin"]


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
            mds = path.startswith("/mds/")  # MDS's statuses: 400 for a bad parameter, 406 for an unserved version
            if operation.get("parameters") or "requestBody" in operation:
                assert (400 if mds else 422) in statuses and (422 not in statuses if mds else True), (method, path)
            if operation.get("security"):
                assert {401, 403} <= statuses, (method, path)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    name = "MdsErrorOut" if mds else "ErrorOut"
                    assert schema == {"$ref": f"#/components/schemas/{name}"}, (method, path, status)
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


@dataclass(frozen=True)
class ContractRun:
    process: subprocess.Popen[bytes]
    output: Path


@pytest.fixture(scope="module")
def contract_runs(demo_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ContractRun]]:
    """schemathesis for every role at once, each in its own process against the one demo (seven runs one after the
    other took four minutes); each test below waits for its role's run. Output goes to files: seven pipes would fill."""
    running: dict[str, ContractRun] = {}
    for role in ROLES:
        where = tmp_path_factory.mktemp(f"schemathesis-{role}")
        config = where / "schemathesis.toml"
        # the role signs in through the API, again whenever a token stops working (schemathesis signs itself out too)
        signing_in = f"""
[auth.dynamic.openapi.OAuth2PasswordBearer]
path = "/auth/token"
payload = {{ username = "{role}@maeul.demo", password = "{DEMO_PASSWORD}" }}
payload_content_type = "application/x-www-form-urlencoded"
extract_selector = "/access_token"
retry_on = [401]
"""
        config.write_text((ROOT / "schemathesis.toml").read_text() + (signing_in if role != "anonymous" else ""))
        command = [
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
            str(where),
        ]
        output = where / "output.txt"
        with output.open("wb") as sink:
            process = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
        running[role] = ContractRun(process, output)
    try:
        yield running
    finally:
        for run in running.values():
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_schemathesis_finds_nothing(contract_runs: dict[str, ContractRun], role: str):
    run = contract_runs[role]
    returncode = run.process.wait(timeout=SECONDS * 4 + 120)
    assert returncode == 0, run.output.read_text(errors="replace")[-25_000:]
