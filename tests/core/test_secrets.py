"""Generated development secrets are written atomically: processes starting together on an empty home (two
`maeul serve` workers) agree on one secret and none reads it half-written ("An Ed25519 private key is 32 bytes
long" killed one worker of a fresh `make loadtest`)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from core.settings import Settings
from ledger.signing import signer_for


def _ledger_key_and_jwt_secret(home: str) -> tuple[bytes, str]:
    settings = Settings(home=Path(home))
    return signer_for(settings).public_key, settings.signing_secret()


def test_processes_starting_together_on_an_empty_home_agree_on_each_secret(tmp_path: Path):
    home = tmp_path / "home"
    with multiprocessing.get_context("fork").Pool(8) as pool:
        seen = pool.map(_ledger_key_and_jwt_secret, [str(home)] * 64)
    assert len(set(seen)) == 1
    public_key, jwt_secret = seen[0]
    assert len(public_key) == 32 and len(jwt_secret) >= 32
    assert sorted(path.name for path in home.iterdir()) == ["jwt-secret", "ledger-key"]  # no temporary left behind
    assert (home / "ledger-key").stat().st_mode & 0o777 == 0o600
