"""Li & Lim's PDPTW benchmark format (tab separated): first line `vehicles capacity speed`; then per node
`id x y demand earliest latest service pickup_index delivery_index`; node 0 is the depot; a pickup names its delivery
in the last column. Distances are Euclidean, unrounded, and travel time equals distance: the convention of the
published best-known solutions. The header's third number is not used by the benchmark (some files say 0)."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path

from routing.types import Node, Pair, Problem


class FormatError(ValueError):
    pass


def read(path: Path) -> Problem:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if not rows or len(rows[0]) != 3 or not all(cell.isdigit() for cell in rows[0][:2]):
        raise FormatError(f"{path}: the first line must be 'vehicles capacity speed'")
    vehicles, capacity = int(rows[0][0]), int(rows[0][1])
    nodes, points, pairs = [], [], []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 9 or row[0] != str(number - 2):
            raise FormatError(f"{path}:{number}: expected node {number - 2} with 9 columns")
        try:
            x, y, demand, earliest, latest, service = map(float, row[1:7])
            delivery = int(row[8])  # a pickup names its delivery; a delivery names its pickup in row[7]
        except ValueError:
            raise FormatError(f"{path}:{number}: the columns after the node's id must be numbers") from None
        if not all(map(math.isfinite, (x, y, demand, earliest, latest, service))):
            raise FormatError(f"{path}:{number}: the columns after the node's id must be finite numbers")
        nodes.append(Node(earliest=earliest, latest=latest, service=service, demand=int(demand), point=(x, y)))
        points.append((x, y))
        if delivery > 0:
            pairs.append(Pair(pickup=number - 2, delivery=delivery))
    if any(pair.delivery >= len(nodes) for pair in pairs):
        raise FormatError(f"{path}: a pickup names a delivery node the file does not have")
    distance = [[math.dist(a, b) for b in points] for a in points]
    return Problem(nodes=nodes, pairs=pairs, distance=distance, vehicles=vehicles, capacity=capacity)


def renumbered(problem: Problem, seed: int) -> Problem:
    """A Li & Lim instance with its other nodes and its pairs in another (seeded) order; the depot stays node 0. Every
    plan keeps its distance and feasibility through the renumbering; OR-Tools' search, which goes through nodes and
    pairs in index order, takes another path."""
    rng = random.Random(seed)
    order = [0, *rng.sample(range(1, len(problem.nodes)), len(problem.nodes) - 1)]  # new index -> old index
    new = {old: index for index, old in enumerate(order)}
    pairs = [dataclasses.replace(pair, pickup=new[pair.pickup], delivery=new[pair.delivery]) for pair in problem.pairs]
    return dataclasses.replace(
        problem,
        nodes=[problem.nodes[old] for old in order],
        pairs=rng.sample(pairs, len(pairs)),
        distance=[[problem.distance[a][b] for b in order] for a in order],
    )


def instances(directory: Path, only: set[str] | None) -> tuple[dict[str, Problem], dict[str, dict[str, float]]]:
    """The instances of a directory in Li & Lim's format (all, or those named) and their best-known solutions
    (`BKS.json`); a missing or malformed file stops the run (a benchmark's) at once, not in a solver process minutes
    into it."""
    if not (directory / "BKS.json").is_file():
        raise SystemExit(f"{directory} has no BKS.json (the best-known solutions of its instances)")
    try:
        best_known = json.loads((directory / "BKS.json").read_text())
    except json.JSONDecodeError as error:
        raise SystemExit(f"{directory / 'BKS.json'} is not JSON: {error}") from None
    paths = [p for p in sorted(directory.glob("*.txt")) if only is None or p.stem in only]
    unknown = sorted((only or set()) - {p.stem for p in paths})
    if unknown:
        raise SystemExit(f"{directory} has no instance named {', '.join(unknown)}")
    if not paths:
        raise SystemExit(f"{directory} holds no instance (a .txt file in Li & Lim's format)")
    missing = [p.stem for p in paths if p.stem not in best_known]
    if missing:
        raise SystemExit(f"{directory / 'BKS.json'} has no best-known solution for {', '.join(missing)}")
    try:
        return {path.stem: read(path) for path in paths}, best_known
    except FormatError as error:
        raise SystemExit(str(error)) from None
