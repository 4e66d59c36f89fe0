"""Compile the anchoring contract into the artefact the service ships: `uv run python -m tests.ledger.compile_contract`
after changing `ledger/contracts/TreeHeadAnchor.vy` (vyper is a development dependency; the service reads the JSON)."""

from __future__ import annotations

import json
from typing import Any

import vyper
from vyper.compiler import compile_code
from vyper.compiler.settings import Settings

from ledger.chain import COMPILED, CONTRACT, EVM_VERSION


def compiled() -> dict[str, Any]:
    out = compile_code(
        CONTRACT.read_text(), output_formats=["abi", "bytecode"], settings=Settings(evm_version=EVM_VERSION)
    )
    return {
        "compiler": f"vyper {vyper.__version__}",
        "evm_version": EVM_VERSION,
        "abi": out["abi"],
        "bytecode": out["bytecode"],
    }


if __name__ == "__main__":
    COMPILED.write_text(json.dumps(compiled(), indent=2) + "\n")
    print(f"wrote {COMPILED}")
