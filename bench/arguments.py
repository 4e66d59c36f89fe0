"""Argument types for the project's scripts (the benchmarks, the load run): a number out of range or a name the script
does not know is a usage error naming the argument (exit 2), before any service starts, never a traceback halfway
through a run."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable
from typing import TypeVar

Number = TypeVar("Number", int, float)
Item = TypeVar("Item")


def at_least(minimum: Number, kind: Callable[[str], Number]) -> Callable[[str], Number]:
    """A finite `kind` (int or float) no smaller than `minimum`."""

    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is out of range: at least {minimum} is needed")
        return value

    return parse


def one_of(known: Iterable[str]) -> Callable[[str], str]:
    """One of `known` names."""
    names = tuple(known)

    def parse(text: str) -> str:
        if text not in names:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(names)}")
        return text

    return parse


def listed(item: Callable[[str], Item]) -> Callable[[str], list[Item]]:
    """Comma-separated items, each parsed by `item`: `2,10`."""

    def parse(text: str) -> list[Item]:
        return [item(part.strip()) for part in text.split(",")]

    return parse
