"""Independent verification of a receipt, as a resident or the city's auditor runs it (`maeul verify`).

Fetches the entry, a signed tree head and proofs from a maeul API and the anchored root from a chain node, and checks
everything itself with RFC 9162 arithmetic and Ed25519: it trusts neither the API nor our database. Like a
Certificate Transparency monitor it remembers, per log (by the log's origin), the signing key and the last tree head
it saw in a local state file, and demands a consistency proof from it, so a log that rewrote its history is caught.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ledger import merkle
from ledger.chain import Chain
from ledger.signing import verify_tree_head

OK, FAILED, PENDING = "ok", "FAILED", "pending"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    outcome: str  # ok | FAILED | pending
    detail: str


@dataclass(slots=True)
class Verification:
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, passed: bool, detail: str, *, pending: bool = False) -> bool:
        self.checks.append(Check(name, PENDING if pending else OK if passed else FAILED, detail))
        return passed

    @property
    def exit_code(self) -> int:
        """0: all verified; 1: something failed (forgery, tampering, rewritten history); 2: not yet anchored."""
        outcomes = {check.outcome for check in self.checks}
        return 1 if FAILED in outcomes else 2 if PENDING in outcomes else 0


LEGACY = ""  # the memory of a verifier from before origins: one log without a name


def load_state(path: Path) -> dict[str, Any]:
    """The monitor's memory: per log origin, the pinned signing key and the last tree head seen."""
    state: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if "logs" not in state:
        state = {"logs": {LEGACY: state} if state else {}}
    return state


def forget(state: dict[str, Any], origin: str) -> bool:
    """Drop what is remembered of one log (it was recreated on purpose); False when it was not known."""
    return state["logs"].pop(origin, None) is not None


def save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state))


def _head(document: dict[str, Any]) -> tuple[int, bytes, datetime, bytes]:
    issued = datetime.fromtimestamp(document["timestamp_ms"] / 1000, tz=UTC)
    return document["size"], bytes.fromhex(document["root"]), issued, base64.b64decode(document["signature"])


class _Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.client.get(path, params={k: v for k, v in params.items() if v is not None})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def consistent(self, first: int, first_root: bytes, second: int, second_root: bytes) -> bool:
        if first == second:
            return first_root == second_root
        proof = await self.get("/ledger/proofs/consistency", first=first, second=second)
        return merkle.verify_consistency(
            first, second, first_root, second_root, [bytes.fromhex(p) for p in proof["path"]]
        )


async def verify_receipt(
    client: httpx.AsyncClient,
    *,
    leaf_index: int | None = None,
    leaf_hash: str | None = None,
    chain: Chain | None = None,
    contract: str | None = None,
    public_key: bytes | None = None,
    state: dict[str, Any],
) -> tuple[Verification, dict[str, Any]]:
    """Verify one receipt against the API at `client.base_url` and, with `chain`, the anchor on chain. `state` is
    what the monitor remembers; the new state comes back (unchanged when a check failed)."""
    result = Verification()
    api = _Api(client)

    served = await api.get("/ledger/public-key")
    origin, served_key = served["origin"], base64.b64decode(served["public_key"])
    logs: dict[str, Any] = state.get("logs", {})
    memory = logs.get(origin)
    if memory is None and logs.get(LEGACY, {}).get("public_key") == served["public_key"]:
        memory = logs[LEGACY]  # what an older verifier remembered of this very log
    pinned = public_key or (base64.b64decode(memory["public_key"]) if memory else None)
    key = pinned or served_key
    if pinned:
        detail = f"log {origin}: its key matches the pinned key"
    else:
        detail = f"log {origin}, first use: key pinned in the state file"
        namesakes = [name for name, known in logs.items() if name and known.get("public_key") == served["public_key"]]
        if namesakes:
            detail += (
                f"; the same key signed {', '.join(namesakes)} before: fine if that log was recreated on purpose, "
                "suspect otherwise (a log must not rename itself to escape its history)"
            )
    result.add("signing key", served_key == key, detail)

    if leaf_index is None:
        assert leaf_hash is not None
        leaf_index = (await api.get("/ledger/proofs/inclusion", leaf_hash=leaf_hash))["leaf_index"]
    entry = await api.get(f"/ledger/entries/{leaf_index}")
    computed_leaf = merkle.leaf_hash(base64.b64decode(entry["entry"]))
    expected_leaf = bytes.fromhex(leaf_hash) if leaf_hash else bytes.fromhex(entry["leaf_hash"])
    result.add(
        "entry",
        computed_leaf == expected_leaf,
        f"entry {leaf_index} ({entry['document'].get('kind')}) hashes to {computed_leaf.hex()[:16]}…",
    )

    size, root, issued, signature = _head(await api.get("/ledger/tree-heads/latest"))
    result.add(
        "tree head signature",
        verify_tree_head(key, size, issued, root, signature),
        f"tree head of {size} entries, root {root.hex()[:16]}…, signed {issued.isoformat()}",
    )
    if leaf_index >= size:
        result.add(
            "inclusion", False, f"entry {leaf_index} is not yet in a signed tree head (size {size})", pending=True
        )
    else:
        proof = await api.get("/ledger/proofs/inclusion", leaf_index=leaf_index, tree_size=size)
        path = [bytes.fromhex(p) for p in proof["path"]]
        result.add(
            "inclusion",
            merkle.verify_inclusion(computed_leaf, leaf_index, size, path, root),
            f"entry {leaf_index} is in the tree of {size} entries ({len(path)} hashes)",
        )

    seen = memory.get("tree_head") if memory else None
    if seen:
        seen_size, seen_root = seen["size"], bytes.fromhex(seen["root"])
        if seen_size > size:
            result.add(
                "consistency with last seen",
                False,
                f"the log shrank: {seen_size} seen before, now {size} (if log {origin} was recreated on purpose, "
                f"start afresh with `maeul verify --forget {origin}`)",
            )
        else:
            result.add(
                "consistency with last seen",
                await api.consistent(seen_size, seen_root, size, root),
                f"the tree of {seen_size} entries seen before is a prefix of the tree of {size}",
            )

    if chain is None:
        result.add("anchor", False, "no chain URL given: the anchor was not checked", pending=True)
    else:
        address = contract or (await api.get("/ledger/anchoring"))["contract_address"]
        if not address:
            result.add("anchor", False, "the log has not anchored anything yet", pending=True)
        else:
            anchored = await chain.latest(address)
            if anchored.size == 0:
                result.add("anchor", False, f"nothing anchored in contract {address} yet", pending=True)
            else:
                linked = await api.consistent(
                    min(anchored.size, size),
                    anchored.root if anchored.size <= size else root,
                    max(anchored.size, size),
                    root if anchored.size <= size else await _signed_root(api, anchored.size, key, result),
                )
                result.add(
                    "anchor",
                    linked,
                    f"contract {address} holds the root of {anchored.size} entries, consistent with the tree head",
                )
                if linked and leaf_index >= anchored.size:
                    result.add(
                        "anchored inclusion", False, f"entry {leaf_index} is newer than the anchor", pending=True
                    )

    if result.exit_code == 1:
        return result, state
    remembered = {"public_key": base64.b64encode(key).decode(), "tree_head": {"size": size, "root": root.hex()}}
    kept = {name: known for name, known in logs.items() if known is not memory}
    return result, {"logs": {**kept, origin: remembered}}


async def _signed_root(api: _Api, size: int, key: bytes, result: Verification) -> bytes:
    """The root of the tree head at `size`, after checking its signature."""
    head_size, root, issued, signature = _head(await api.get(f"/ledger/tree-heads/{size}"))
    result.add(
        "anchored tree head signature", verify_tree_head(key, head_size, issued, root, signature), f"size {size}"
    )
    return root
