"""Production refuses what would make it unsafe, and the shipped compose stack carries everything production needs:
`maeul serve` started with exactly the compose file's environment (its hosts pointed at this machine's services)
answers."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import ValidationError

from core.redis import redis_database
from core.serving import wait_until_answering
from core.settings import Settings
from tests.factories import free_port

ROOT = Path(__file__).resolve().parents[2]
# what an operator puts in the stack's .env
OPERATOR = {
    "MAEUL_JWT_SECRET": "a-production-jwt-secret-of-more-than-32-characters",
    "MAEUL_LEDGER_SIGNING_KEY": base64.b64encode(bytes(range(32))).decode(),
    "MAEUL_PLATE_HASH_KEY": "a-production-plate-key-of-more-than-32-characters",
    "MAEUL_CHAIN_PRIVATE_KEY": "0x" + "11" * 32,
    "MAEUL_PAYMENT_SECRET_KEY": "live_sk_an-operators-gateway-key",
}


def compose_environment(variables: dict[str, str]) -> dict[str, str]:
    """The API's environment in docker-compose.yml, with `${NAME:-default}` and `${NAME:?message}` resolved as
    docker-compose resolves them (a missing required variable is an error, as it is for docker-compose)."""
    stack = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment: dict[str, str] = stack["services"]["api"]["environment"]

    def resolve(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        if name in variables:
            return variables[name]
        if kind == ":?":
            raise KeyError(f"{name}: {rest}")
        return rest

    return {key: re.sub(r"\$\{(\w+)(:-|:\?)([^}]*)\}", resolve, str(value)) for key, value in environment.items()}


def test_the_compose_environment_is_a_valid_production_configuration():
    environment = compose_environment(OPERATOR)
    assert environment["MAEUL_ENV"] == "production"
    settings = Settings(**{key.removeprefix("MAEUL_").lower(): value for key, value in environment.items()})
    assert settings.env == "production" and settings.chain_private_key is not None
    with pytest.raises(KeyError, match="MAEUL_PLATE_HASH_KEY"):
        compose_environment({k: v for k, v in OPERATOR.items() if k != "MAEUL_PLATE_HASH_KEY"})


@pytest.mark.parametrize(
    "missing",
    [
        "jwt_secret",
        "plate_hash_key",
        "ledger_signing_key",
        "chain_url",
        "chain_private_key",
        "payment_gateway_url",  # without it: the local demo gateway, whose confirmations are not money
        "payment_secret_key",
    ],
)
def test_production_refuses_to_start_without_each_secret(missing: str):
    complete = {
        "env": "production",
        "database_url": "postgresql+asyncpg://maeul:x@db:5432/maeul",
        "redis_url": "redis://redis:6379/0",
        "jwt_secret": OPERATOR["MAEUL_JWT_SECRET"],
        "ledger_signing_key": OPERATOR["MAEUL_LEDGER_SIGNING_KEY"],
        "plate_hash_key": OPERATOR["MAEUL_PLATE_HASH_KEY"],
        "chain_url": "http://chain:8545",
        "chain_private_key": OPERATOR["MAEUL_CHAIN_PRIVATE_KEY"],
        "payment_gateway_url": "https://api.tosspayments.com",
        "payment_secret_key": OPERATOR["MAEUL_PAYMENT_SECRET_KEY"],
    }
    configured = Settings(**complete)
    assert configured.payment_gateway() == ("https://api.tosspayments.com", OPERATOR["MAEUL_PAYMENT_SECRET_KEY"])
    with pytest.raises(ValidationError, match=f"MAEUL_{missing.upper()}"):
        Settings(**{key: value for key, value in complete.items() if key != missing})


@pytest.mark.slow
def test_maeul_serve_starts_with_the_compose_files_production_environment(
    settings: Settings, database: str, tmp_path: Path
):
    environment = compose_environment(OPERATOR)
    # the stack's host names are this machine's services: the test database and a Redis database of its own
    environment["MAEUL_DATABASE_URL"] = database
    environment["MAEUL_REDIS_URL"] = redis_database(settings, 11)
    port = free_port()
    maeul = str(Path(sys.executable).parent / "maeul")
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [maeul, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("MAEUL_")}, **environment},
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,  # no development secrets lying around to fall back on
        )
    try:
        try:
            wait_until_answering(server, f"http://127.0.0.1:{port}/health", timeout_s=60)
        except RuntimeError as error:
            raise AssertionError(log.read_text()) from error
        health = httpx.get(f"http://127.0.0.1:{port}/health")
        assert health.headers["strict-transport-security"] == "max-age=31536000"  # behind the stack's https proxy
    finally:
        server.terminate()
        server.wait(timeout=30)
