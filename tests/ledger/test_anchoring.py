"""Anchoring tree heads on an EVM chain: the in-process default, a chain that is down or reset, the worker jobs,
and end to end on a real JSON-RPC node (anvil) with `maeul verify` and `maeul ledger audit`."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from accounts.models import Account
from api.state import AppState
from core.clock import FixedClock
from core.settings import Settings
from jobs import shutdown, startup
from ledger import anchoring
from ledger import log as ledger
from ledger.chain import CHAIN_TIMEOUT_S, COMPILED, Chain
from ledger.jobs import anchor_tree_heads, publish_tree_head
from ledger.models import AnchorJob
from ledger.verify import verify_receipt
from tests.conftest import NOW
from tests.factories import PASSWORD, booking_body, free_port
from tests.ledger.compile_contract import compiled

ROOT = Path(__file__).resolve().parents[2]
MAEUL = str(Path(sys.executable).parent / "maeul")
UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing answers JSON-RPC there


def _records(count: int) -> list[ledger.Record]:
    return [ledger.Record(kind="test.anchor", subject=f"anchor:{i}", body={"i": i}, at=NOW) for i in range(count)]


async def _publish(session: AsyncSession, state: AppState, now: datetime) -> ledger.TreeHead:
    head = await ledger.publish_tree_head(session, signer=state.signer, now=now, every_entries=1, every_seconds=1)
    assert head is not None
    return head


def test_the_committed_contract_is_what_its_source_compiles_to():
    """The service ships the compiled contract; vyper (development only) recompiles the source and must agree."""
    assert json.loads(COMPILED.read_text()) == compiled(), (
        "TreeHeadAnchor.vy changed: run `uv run python -m tests.ledger.compile_contract` and commit the JSON"
    )


async def test_anchor_on_the_in_process_chain(session: AsyncSession, state: AppState, client: httpx.AsyncClient):
    chain = Chain.connect(None)
    await ledger.append(session, *_records(5))
    head = await _publish(session, state, NOW)
    anchor = await anchoring.anchor_pending(session, chain, now=NOW, max_backoff_s=60)
    assert anchor is not None and anchor.tree_size == head.size and anchor.tx_hash.startswith("0x")
    deployment = await anchoring.current_deployment(session, chain, now=NOW)
    on_chain = await chain.latest(deployment.contract_address)
    assert (on_chain.size, on_chain.root) == (head.size, head.root)
    await session.commit()
    status = (await client.get("/ledger/anchoring")).json()
    assert status["anchored_size"] == head.size and status["entries_not_anchored"] == 0
    assert status["contract_address"] == deployment.contract_address
    assert await anchoring.anchor_pending(session, chain, now=NOW, max_backoff_s=60) is None  # nothing left


async def test_a_chain_that_is_down_delays_but_never_loses(
    session: AsyncSession, state: AppState, client: httpx.AsyncClient
):
    await ledger.append(session, *_records(3))
    head = await _publish(session, state, NOW)
    down = Chain.connect(UNREACHABLE, timeout_s=1)
    await _attempts(session, down, head)
    await down.close()
    await session.commit()
    status = (await client.get("/ledger/anchoring")).json()
    assert status["entries_not_anchored"] >= 3 and status["last_error"] and status["pending_attempts"] == 3
    # more business goes on meanwhile, and a newer tree head supersedes the old one once the chain is back
    await ledger.append(session, *_records(2))
    newer = await _publish(session, state, NOW + timedelta(minutes=5))
    anchor = await anchoring.anchor_pending(
        session, Chain.connect(None), now=NOW + timedelta(minutes=6), max_backoff_s=5
    )
    assert anchor is not None and anchor.tree_size == newer.size
    old = await session.get(AnchorJob, head.size, populate_existing=True)
    assert old is not None and old.status == "superseded"


async def _attempts(session: AsyncSession, down: Chain, head: ledger.TreeHead) -> None:
    for attempt, wait in ((1, 2), (2, 4), (3, 8)):
        assert (
            await anchoring.anchor_pending(session, down, now=NOW + timedelta(seconds=60 * attempt), max_backoff_s=5)
            is None
        )
        job = await session.get(AnchorJob, head.size, populate_existing=True)
        assert job is not None and job.status == "pending" and job.attempts == attempt and job.last_error
        assert job.next_attempt_at == NOW + timedelta(seconds=60 * attempt + min(wait, 5))


async def test_a_reset_chain_is_anchored_again(session: AsyncSession, state: AppState):
    await ledger.append(session, *_records(2))
    head = await _publish(session, state, NOW)
    first = Chain.connect(None)
    assert await anchoring.anchor_pending(session, first, now=NOW, max_backoff_s=5) is not None
    old = await anchoring.current_deployment(session, first, now=NOW)
    restarted = Chain.connect(None)  # a new in-process chain: the contract and its anchors are gone
    anchor = await anchoring.anchor_pending(session, restarted, now=NOW + timedelta(seconds=1), max_backoff_s=5)
    assert anchor is not None and anchor.tree_size == head.size
    new = await anchoring.current_deployment(session, restarted, now=NOW)
    assert new.id != old.id
    assert (await restarted.latest(new.contract_address)).root == head.root


async def test_worker_jobs(settings: Settings, database: str, engine: AsyncEngine):
    async with AsyncSession(engine) as session:
        now = datetime.now(UTC)
        await ledger.append(session, ledger.Record(kind="test.worker", subject="worker", body={}, at=now))
        await session.commit()
    ctx: dict[str, object] = {"settings": settings.model_copy(update={"ledger_tree_head_every_entries": 1})}
    await startup(ctx)
    try:
        published = await publish_tree_head(ctx)
        assert published is not None
        anchored = await anchor_tree_heads(ctx)
        assert anchored is not None and anchored >= published
    finally:
        await shutdown(ctx)


class SilentChain:
    """A chain node that stops answering: every call hangs until the client's timeout (here 2 s), then fails."""

    def __init__(self) -> None:
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        async def hang(*args: object, **kwargs: object) -> Any:
            self.calls += 1
            await asyncio.sleep(2)
            raise TimeoutError(f"{name}: the chain node did not answer")

        return hang


async def test_a_silent_chain_never_piles_up_anchoring_runs(settings: Settings, database: str, engine: AsyncEngine):
    """The job is scheduled every second; while the node is silent each run waits out its timeout. Runs that start
    meanwhile return at once (one run at a time across workers), and the anchor is retried later, never lost."""
    async with AsyncSession(engine) as session:
        await ledger.append(session, ledger.Record(kind="test.silent", subject="silent", body={}, at=datetime.now(UTC)))
        await session.commit()
    ctx: dict[str, Any] = {"settings": settings.model_copy(update={"ledger_tree_head_every_entries": 1})}
    await startup(ctx)
    try:
        assert await publish_tree_head(ctx) is not None
        chain, ctx["chain"] = ctx["chain"], SilentChain()
        started = time.monotonic()
        runs = await asyncio.gather(*(anchor_tree_heads(ctx) for _ in range(5)))
        assert runs == [None] * 5 and time.monotonic() - started < 5
        assert 1 <= ctx["chain"].calls <= 2  # one run talked to the chain (a check and a retry at most)
        async with AsyncSession(engine) as session:
            waiting = await session.scalar(
                select(AnchorJob).where(AnchorJob.status == "pending", AnchorJob.attempts > 0)
            )
            assert waiting is not None and "did not answer" in (waiting.last_error or "")
        ctx["chain"] = chain  # the node answers again: the retry anchors it
        ctx["clock"] = FixedClock(datetime.now(UTC) + timedelta(hours=1))
        assert await anchor_tree_heads(ctx) is not None
    finally:
        await shutdown(ctx)


@pytest.mark.slow
async def test_a_paused_chain_node_never_piles_up_and_anchoring_resumes(
    settings: Settings, database: str, engine: AsyncEngine
):
    """The real node stopped (SIGSTOP: it keeps the connections and answers nothing) while the job runs every
    second: one run waits out the chain's timeout, the others return at once; the tree head waits, recorded with its
    error; once the node is back (SIGCONT) the next run anchors it, nothing lost."""
    process, url = _start_anvil()
    ctx: dict[str, Any] = {
        "settings": settings.model_copy(update={"ledger_tree_head_every_entries": 1, "chain_url": url})
    }
    try:
        await startup(ctx)
        async with AsyncSession(engine) as session:
            await ledger.append(session, ledger.Record(kind="test.paused", subject="p", body={}, at=datetime.now(UTC)))
            await session.commit()
        assert await publish_tree_head(ctx) is not None
        assert await anchor_tree_heads(ctx) is not None  # the node answers: its contract deployed, the head anchored
        async with AsyncSession(engine) as session:
            await ledger.append(session, ledger.Record(kind="test.paused", subject="p", body={}, at=datetime.now(UTC)))
            await session.commit()
        latest = await publish_tree_head(ctx)
        assert latest is not None
        os.kill(process.pid, signal.SIGSTOP)
        started = time.monotonic()
        runs = await asyncio.gather(*(anchor_tree_heads(ctx) for _ in range(5)))
        assert runs == [None] * 5 and time.monotonic() - started < 4 * CHAIN_TIMEOUT_S
        async with AsyncSession(engine) as session:
            waiting = await session.scalar(select(AnchorJob).where(AnchorJob.tree_size == latest))
            assert waiting is not None and waiting.status == "pending" and waiting.attempts >= 1
        os.kill(process.pid, signal.SIGCONT)
        ctx["clock"] = FixedClock(datetime.now(UTC) + timedelta(hours=1))  # its back-off has passed
        assert await anchor_tree_heads(ctx) == latest
    finally:
        os.kill(process.pid, signal.SIGCONT)
        if "cache" in ctx:
            await shutdown(ctx)
        process.terminate()
        process.wait(timeout=10)


def _start_anvil() -> tuple[subprocess.Popen[bytes], str]:
    """A real EVM JSON-RPC node (anvil, in memory) on loopback, installed by `make` from package-lock.json."""
    binary = ROOT / "node_modules" / ".bin" / "anvil"
    assert binary.exists(), "anvil is missing: run `make node-tools`"
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "anvil did not start"
        time.sleep(0.2)
    return process, url


@pytest.fixture(scope="session")
def anvil() -> Iterator[str]:
    process, url = _start_anvil()
    yield url
    process.terminate()
    process.wait(timeout=10)


async def _anchor_everything(engine: AsyncEngine, state: AppState, chain: Chain) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await ledger.publish_tree_head(
            session, signer=state.signer, now=datetime.now(UTC), every_entries=1, every_seconds=1
        )
        await session.commit()
        anchor = await anchoring.anchor_pending(
            session, chain, now=datetime.now(UTC) + timedelta(hours=1), max_backoff_s=5
        )
        await session.commit()
        assert anchor is not None


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MAEUL, *args], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)


@pytest.mark.slow
async def test_end_to_end_on_anvil(
    anvil: str,
    live_server: str,
    engine: AsyncEngine,
    committed: dict[str, object],
    state: AppState,
    settings: Settings,
    tmp_path: Path,
):
    slot_id = committed["slot_id"]
    drivers = committed["drivers"]
    assert isinstance(slot_id, uuid.UUID) and isinstance(drivers, list)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        async with AsyncSession(engine) as session:
            email = await session.scalar(select(Account.email).where(Account.id == drivers[0].id))
        token = (await client.post("/auth/token", data={"username": email, "password": PASSWORD})).json()
        start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
        booked = await client.post(
            "/bookings",
            json=booking_body(slot_id, start, start + timedelta(hours=2)),
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert booked.status_code == 201, booked.text
        receipt = booked.json()["receipts"][0]
        chain = Chain.connect(anvil)
        await _anchor_everything(engine, state, chain)

        state_file = tmp_path / "monitor.json"
        verify = (
            "verify",
            "--api",
            live_server,
            "--leaf-index",
            str(receipt["leaf_index"]),
            "--leaf-hash",
            receipt["leaf_hash"],
            "--chain-url",
            anvil,
            "--state",
            str(state_file),
        )
        origin = (await client.get("/ledger/public-key")).json()["origin"]
        # the monitor already knows another log (another deployment, or this demo before `make clean`), much longer
        other = {"public_key": base64.b64encode(bytes(32)).decode(), "tree_head": {"size": 10**6, "root": "ef" * 32}}
        state_file.write_text(json.dumps({"logs": {"maeul/another-deployment": other}}))
        result = _run(*verify)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "verified" in result.stdout and "FAILED" not in result.stdout and origin in result.stdout
        memory = json.loads(state_file.read_text())["logs"]
        assert memory["maeul/another-deployment"] == other  # each log is remembered apart
        assert memory[origin]["tree_head"]["size"] >= receipt["leaf_index"] + 1

        # the memory of a verifier from before origins is adopted when the key matches
        legacy = tmp_path / "legacy.json"
        legacy.write_text(json.dumps(memory[origin]))
        assert _run(*verify[:-1], str(legacy)).returncode == 0
        assert set(json.loads(legacy.read_text())["logs"]) == {origin}

        # a wrong receipt (the hash of another entry) is caught
        forged = list(verify)
        forged[forged.index("--leaf-hash") + 1] = "ab" * 32
        assert _run(*forged).returncode == 1

        # a log that rewrote its history: the monitor remembers a different root for a size it saw
        seen = json.loads(state_file.read_text())
        seen["logs"][origin]["tree_head"]["root"] = "cd" * 32
        rewritten = tmp_path / "rewritten.json"
        rewritten.write_text(json.dumps(seen))
        result = _run(*verify[:-1], str(rewritten))
        assert result.returncode == 1 and "consistency with last seen" in result.stdout

        # ... or shrank; when that log was recreated on purpose, the monitor is told how to forget it
        seen["logs"][origin]["tree_head"] = {"size": 10**6, "root": "cd" * 32}
        rewritten.write_text(json.dumps(seen))
        result = _run(*verify[:-1], str(rewritten))
        assert result.returncode == 1 and f"maeul verify --forget {origin}" in result.stdout
        forgotten = _run("verify", "--state", str(rewritten), "--forget", origin)
        assert forgotten.returncode == 0 and origin not in json.loads(rewritten.read_text())["logs"]
        assert _run(*verify[:-1], str(rewritten)).returncode == 0
        assert _run("verify", "--state", str(rewritten), "--forget", "maeul/never-seen").returncode == 1

        # a tree head signed by another key
        other_key = base64.b64encode(bytes(32)).decode()
        result = _run(*verify, "--public-key", other_key)
        assert result.returncode == 1 and "signing key" in result.stdout

        # a forged inclusion proof served by a compromised API
        async def tamper(request: httpx.Request) -> httpx.Response:
            upstream = await client.send(
                client.build_request(
                    request.method,
                    str(
                        request.url.copy_with(scheme="http", host="127.0.0.1", port=int(live_server.rsplit(":", 1)[1]))
                    ),
                    params=None,
                )
            )
            body = upstream.json()
            if request.url.path == "/ledger/proofs/inclusion" and body.get("path"):
                body["path"][0] = "00" * 32
            return httpx.Response(upstream.status_code, json=body)

        async with httpx.AsyncClient(transport=httpx.MockTransport(tamper), base_url="http://compromised") as bad:
            result_forged, _ = await verify_receipt(
                bad, leaf_index=receipt["leaf_index"], chain=chain, state=json.loads(state_file.read_text())
            )
        assert result_forged.exit_code == 1
        assert [c.name for c in result_forged.checks if c.outcome == "FAILED"] == ["inclusion"]

        # the audit recomputes everything and checks the anchors on anvil
        env = {**os.environ, "MAEUL_DATABASE_NAME": settings.database_name}
        audit = _run("ledger", "audit", "--chain-url", anvil, env=env)
        assert audit.returncode == 0, audit.stdout + audit.stderr
        assert "audit passed" in audit.stdout and " 0 anchors checked" not in audit.stdout
