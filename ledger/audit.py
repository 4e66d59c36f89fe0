"""`maeul ledger audit`: recompute the whole tree from the stored entries and compare it with every stored node,
every signed tree head and every anchor on the chain. Catches a change made behind the append-only triggers (e.g. by
a database superuser) and names the first bad leaf index."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import merkle
from ledger.anchoring import known_deployment
from ledger.chain import Chain
from ledger.models import Anchor, LedgerEntry, LedgerNode, TreeHead
from ledger.signing import verify_tree_head

BATCH = 10_000


@dataclass(slots=True)
class AuditReport:
    entries: int = 0
    tree_heads: int = 0
    anchors_checked: int = 0
    problems: list[str] = field(default_factory=list)
    evidence: list[tuple[int, int]] = field(default_factory=list)  # (span level, first leaf it points at)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        """The first bad leaf, from the most precise evidence: a leaf that no longer hashes to its stored hash
        (level 0), else the lowest stored node that no longer matches its leaves, else a tree head's range."""
        if not self.evidence:
            return None
        finest = min(level for level, _ in self.evidence)
        return min(index for level, index in self.evidence if level == finest)

    def bad(self, problem: str, *, index: int | None = None, level: int = 0) -> None:
        self.problems.append(problem)
        if index is not None:
            self.evidence.append((level, index))


async def audit(session: AsyncSession, *, public_key: bytes, chain: Chain | None = None) -> AuditReport:
    report = AuditReport()
    stored = select(TreeHead).order_by(TreeHead.size).execution_options(populate_existing=True)
    heads = list((await session.execute(stored)).scalars())
    heads_by_size = {head.size: head for head in heads}
    report.tree_heads = len(heads)
    for head in heads:
        if not verify_tree_head(public_key, head.size, head.issued_at, head.root, head.signature):
            report.bad(f"tree head at size {head.size}: the signature does not verify")

    stored_nodes: dict[merkle.NodeKey, bytes] = {}
    frontier: list[bytes] = []
    size = 0
    last_good_head = 0
    while True:
        rows = (
            await session.execute(
                select(LedgerEntry.leaf_index, LedgerEntry.entry, LedgerEntry.leaf_hash)
                .where(LedgerEntry.leaf_index >= size)
                .order_by(LedgerEntry.leaf_index)
                .limit(BATCH)
            )
        ).all()
        if not rows:
            break
        upper = await session.execute(_nodes_completed_by(size, size + len(rows)))
        stored_nodes = {(level, index): digest for level, index, digest in upper}
        for index, entry, stored_leaf in rows:
            if index != size:
                report.bad(f"entry {size} is missing (the next stored index is {index})", index=size)
                return report
            leaf = merkle.leaf_hash(entry)
            if leaf != stored_leaf:
                report.bad(f"entry {index} was changed: its bytes no longer hash to its stored leaf hash", index=index)
            completed, frontier = merkle.completed_nodes(size, leaf, frontier)
            for (level, node_index), digest in completed[1:]:
                if stored_nodes.get((level, node_index)) != digest:
                    first_leaf = node_index << level
                    last_leaf = ((node_index + 1) << level) - 1
                    report.bad(
                        f"stored node ({level}, {node_index}) over entries {first_leaf}..{last_leaf} does not match",
                        index=first_leaf,
                        level=level,
                    )
            size += 1
            published = heads_by_size.get(size)
            if published is not None:
                if merkle.frontier_root(frontier) != published.root:
                    report.bad(
                        f"tree head at size {size} does not match the entries: history in {last_good_head}..{size - 1}"
                        " was rewritten",
                        index=last_good_head,
                        level=64,
                    )
                else:
                    last_good_head = size
    report.entries = size
    if heads and heads[-1].size > size:
        report.bad(f"tree head at size {heads[-1].size} covers entries that are gone (log has {size})", index=size)
    if chain is not None:
        await _check_anchors(session, chain, heads_by_size, report)
    return report


def _nodes_completed_by(start: int, end: int) -> Select[int, int, bytes]:
    """Stored nodes that appending leaves [start, end) completes: node (L, i) completes with leaf (i + 1) * 2**L - 1,
    so i runs from start >> L to (end >> L) - 1 on each level (ranges of the primary key)."""
    ranges = [
        and_(LedgerNode.level == level, LedgerNode.index.between(start >> level, (end >> level) - 1))
        for level in range(1, end.bit_length() + 1)
        if (end >> level) - 1 >= start >> level
    ]
    query = select(LedgerNode.level, LedgerNode.index, LedgerNode.hash)
    return query.where(or_(*ranges)) if ranges else query.where(LedgerNode.level < 0)


async def _check_anchors(session: AsyncSession, chain: Chain, heads: dict[int, TreeHead], report: AuditReport) -> None:
    deployment = await known_deployment(session, chain)
    if deployment is None:
        report.problems.append("no anchoring contract is known on this chain")
        return
    anchors = (await session.execute(select(Anchor).where(Anchor.deployment_id == deployment.id))).scalars()
    for anchor in anchors:
        on_chain = await chain.root_at(deployment.contract_address, anchor.tree_size)
        head = heads.get(anchor.tree_size)
        report.anchors_checked += 1
        if head is None or on_chain != head.root:
            report.bad(f"anchor at size {anchor.tree_size}: the root on chain differs from the tree head")
