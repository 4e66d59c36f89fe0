"""Exact revenue splits in integer KRW (largest-remainder rounding). Pure."""

from __future__ import annotations

from collections.abc import Mapping

BASIS = 10_000  # shares are in basis points


def split(amount: int, shares: Mapping[str, int]) -> dict[str, int]:
    """Divide `amount` KRW by `shares` (basis points summing to 10,000): each party gets the floor of its exact share,
    and the won left over go one each to the largest remainders (ties: the larger share, then the name). The parts
    always add up to `amount` exactly; a negative amount (a refund) is split as its mirror image."""
    if sum(shares.values()) != BASIS or any(s < 0 for s in shares.values()):
        raise ValueError(f"shares must be non-negative and add up to {BASIS}: {dict(shares)}")
    if amount < 0:
        return {party: -part for party, part in split(-amount, shares).items()}
    exact = {party: amount * share for party, share in shares.items()}
    parts = {party: value // BASIS for party, value in exact.items()}
    left = amount - sum(parts.values())
    order = sorted(shares, key=lambda p: (-(exact[p] % BASIS), -shares[p], p))
    for party in order[:left]:
        parts[party] += 1
    return {party: part for party, part in parts.items() if part or shares[party]}
