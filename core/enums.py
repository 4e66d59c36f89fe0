"""Helpers for closed sets of domain values stored as text with a CHECK constraint."""

from __future__ import annotations

from enum import StrEnum


def check_in(column: str, values: type[StrEnum]) -> str:
    """SQL text of a CHECK constraint restricting `column` to the members of `values`."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"
