"""The anchoring contract on an EVM chain, through web3.py (async).

`MAEUL_CHAIN_URL`: any JSON-RPC node (a permissioned Besu network in production). Unset: the local anvil node that
`maeul services up` runs (the demo), or with `MAEUL_LOCAL_CHAIN=in-process` a py-evm chain inside the process (web3's
EthereumTesterProvider, a development dependency, for the tests): it is lost when the process ends, and the anchoring
worker notices and re-anchors.

The contract ships compiled: `contracts/TreeHeadAnchor.json` (ABI and bytecode) is the build artefact of
`contracts/TreeHeadAnchor.vy`, committed; a test recompiles the source with vyper (a development dependency) and
compares, so the two cannot drift and the service itself needs no compiler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from web3 import AsyncWeb3

CONTRACT = Path(__file__).parent / "contracts" / "TreeHeadAnchor.vy"
COMPILED = CONTRACT.with_suffix(".json")
EVM_VERSION = "shanghai"
CHAIN_TIMEOUT_S = 10.0  # one JSON-RPC call


@dataclass(frozen=True, slots=True)
class Artifact:
    abi: list[dict[str, Any]]
    bytecode: str


@lru_cache
def artifact() -> Artifact:
    """The compiled contract (for the shanghai EVM), as committed beside its source."""
    compiled = json.loads(COMPILED.read_text())
    return Artifact(abi=compiled["abi"], bytecode=compiled["bytecode"])


class ChainError(RuntimeError):
    """The chain could not be reached or refused a transaction."""


@dataclass(frozen=True, slots=True)
class Anchored:
    size: int
    root: bytes


class Chain:
    """A connection to one chain and, once known, the anchoring contract on it."""

    def __init__(self, w3: AsyncWeb3[Any], *, private_key: str | None = None) -> None:
        self.w3 = w3
        self._account: str | None = None
        if private_key:
            account = w3.eth.account.from_key(private_key)
            from web3.middleware import SignAndSendRawMiddlewareBuilder

            w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(account), layer=0)
            self._account = account.address

    @classmethod
    def connect(cls, url: str | None, *, private_key: str | None = None, timeout_s: float = CHAIN_TIMEOUT_S) -> Chain:
        # web3 is imported here, not with the module: it takes a second and a half, and only the worker talks to
        # the chain (every API process and CLI command imports this module)
        from web3 import AsyncHTTPProvider, AsyncWeb3

        if url is None:
            from web3.providers.eth_tester import AsyncEthereumTesterProvider  # eth-tester: development only

            return cls(AsyncWeb3(AsyncEthereumTesterProvider()), private_key=private_key)
        # no retries inside web3 (by default five per call, each waiting out the timeout: a silent node held one
        # anchoring run for a minute, past its lock): the anchoring job retries with its own back-off
        provider = AsyncHTTPProvider(url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None)
        return cls(AsyncWeb3(provider), private_key=private_key)

    async def close(self) -> None:
        """Close the HTTP sessions of a JSON-RPC connection (the in-process chain has none)."""
        from web3 import AsyncHTTPProvider

        if isinstance(self.w3.provider, AsyncHTTPProvider):
            await self.w3.provider.disconnect()

    async def account(self) -> str:
        if self._account is None:
            accounts = await self.w3.eth.accounts
            if not accounts:
                raise ChainError("the chain node offers no unlocked account; set MAEUL_CHAIN_PRIVATE_KEY")
            self._account = str(accounts[0])
        return self._account

    async def identity(self) -> tuple[int, str]:
        """(chain id, genesis block hash): a chain that was reset has a new genesis."""
        chain_id = await self.w3.eth.chain_id
        genesis = await self.w3.eth.get_block(0)
        return int(chain_id), "0x" + bytes(genesis["hash"]).hex().removeprefix("0x")

    async def has_contract(self, address: str) -> bool:
        code = await self.w3.eth.get_code(self.w3.to_checksum_address(address))
        return len(code) > 0

    async def deploy(self) -> str:
        built = artifact()
        contract = self.w3.eth.contract(abi=built.abi, bytecode=built.bytecode)
        tx = await contract.constructor().transact({"from": await self.account()})
        receipt = await self.w3.eth.wait_for_transaction_receipt(tx, timeout=60)
        if receipt["status"] != 1 or receipt["contractAddress"] is None:
            raise ChainError("deploying the anchoring contract failed")
        return str(receipt["contractAddress"])

    def _contract(self, address: str) -> Any:
        return self.w3.eth.contract(address=self.w3.to_checksum_address(address), abi=artifact().abi)

    async def anchor(self, address: str, size: int, root: bytes) -> tuple[str, int]:
        """Record (size, root); the transaction hash and block number."""
        tx = await self._contract(address).functions.anchor(size, root).transact({"from": await self.account()})
        receipt = await self.w3.eth.wait_for_transaction_receipt(tx, timeout=60)
        if receipt["status"] != 1:
            raise ChainError(f"the anchor transaction {tx.hex()} failed")
        return "0x" + bytes(tx).hex().removeprefix("0x"), int(receipt["blockNumber"])

    async def latest(self, address: str) -> Anchored:
        size, root = await self._contract(address).functions.latest().call()
        return Anchored(int(size), bytes(root))

    async def root_at(self, address: str, size: int) -> bytes:
        return cast(bytes, await self._contract(address).functions.roots(size).call())
