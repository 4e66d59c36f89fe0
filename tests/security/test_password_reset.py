"""Password reset by e-mail (finding 7): the code goes out through the outbox over SMTP to a real local SMTP server
process (aiosmtpd, writing a Maildir); asking tells nobody whether the account exists; the code is stored hashed,
never shown in the inbox or the log, erased from the outbox once sent, works once, expires, and signs the account out
everywhere."""

from __future__ import annotations

import mailbox
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import Account, PasswordReset
from api.state import AppState
from core import outbox
from core.clock import FixedClock
from core.mail import channel_for
from core.settings import Settings
from tests.factories import PASSWORD, auth, free_port, make_account

NEW_PASSWORD = "a-new-password-of-mine"


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """aiosmtpd in a process of its own on loopback, delivering into a Maildir."""
    port, maildir = free_port(), tmp_path / "maildir"
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Mailbox"]
        + [str(maildir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the SMTP server did not start"
                time.sleep(0.1)
        yield port, maildir
    finally:
        server.terminate()
        server.wait(timeout=10)


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> int:
    return (await client.post("/auth/token", data={"username": email, "password": password})).status_code


async def test_a_reset_code_is_emailed_and_works_once(
    client: httpx.AsyncClient,
    session: AsyncSession,
    state: AppState,
    settings: Settings,
    clock: FixedClock,
    smtp_server: tuple[int, Path],
):
    port, maildir = smtp_server
    account = await make_account(session)
    email = await session.scalar(select(Account.email).where(Account.id == account.id))
    assert email is not None
    before = auth(state, account)
    resets = select(func.count()).select_from(PasswordReset).where(PasswordReset.account_id == account.id)

    asked = await client.post("/auth/password-reset", json={"email": email.upper()})
    assert asked.status_code == 202
    unknown = await client.post("/auth/password-reset", json={"email": "nobody-at-all@example.com"})
    assert unknown.status_code == 202 and unknown.content == asked.content  # nothing tells which exists
    assert await session.scalar(resets) == 1
    inbox = (await client.get("/notifications", headers=before)).json()["items"]
    assert inbox[0]["kind"] == "password_reset" and "secret" not in inbox[0]["body"]  # not readable in the app

    mail_settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False})
    assert await outbox.deliver_pending(session, channel_for(mail_settings), now=clock.now()) >= 1
    sent = [m for m in mailbox.Maildir(maildir, create=False) if m["To"] == email]
    assert len(sent) == 1 and sent[0]["Subject"] == "Reset your maeul password"
    found = re.search(r"^    ([A-Za-z0-9_-]{20,})$", sent[0].get_payload(), re.MULTILINE)
    assert found is not None, sent[0].get_payload()
    code = found[1]
    stored = await session.scalar(select(PasswordReset.token_hash).where(PasswordReset.account_id == account.id))
    assert stored is not None and code not in stored  # only its hash is kept
    notifications = await session.scalars(
        select(outbox.Notification).where(outbox.Notification.audience == f"account:{account.id}")
    )
    assert all("secret" not in n.body for n in notifications)  # the outbox forgot it once it was out

    clock.advance(timedelta(seconds=1))
    done = await client.post("/auth/password-reset/confirm", json={"code": code, "new_password": NEW_PASSWORD})
    assert done.status_code == 204, done.text
    assert await _sign_in(client, email, NEW_PASSWORD) == 200
    assert await _sign_in(client, email, PASSWORD) == 401
    assert (await client.get("/me", headers=before)).status_code == 401  # signed out everywhere
    again = await client.post("/auth/password-reset/confirm", json={"code": code, "new_password": "yet-another-one"})
    assert again.status_code == 404 and again.json()["error"] == "invalid_reset_token"
    forged = await client.post("/auth/password-reset/confirm", json={"code": "x" * 43, "new_password": NEW_PASSWORD})
    assert forged.status_code == 404 and forged.json()["error"] == "invalid_reset_token"


async def test_a_reset_code_expires_and_requests_are_bounded(
    client: httpx.AsyncClient, session: AsyncSession, state: AppState, clock: FixedClock
):
    account = await make_account(session)
    email = await session.scalar(select(Account.email).where(Account.id == account.id))
    for _ in range(5):
        assert (await client.post("/auth/password-reset", json={"email": email})).status_code == 202
    resets = select(func.count()).select_from(PasswordReset).where(PasswordReset.account_id == account.id)
    assert await session.scalar(resets) == 3  # three an hour to one address; the rest accepted and dropped
    bodies = await session.scalars(
        select(outbox.Notification.body).where(outbox.Notification.audience == f"account:{account.id}")
    )
    codes = [body["secret"] for body in bodies]
    assert len(codes) == 3
    clock.advance(timedelta(minutes=31))  # the newest code's 30 minutes are over (the older ones ended with it)
    for code in codes:
        late = await client.post("/auth/password-reset/confirm", json={"code": code, "new_password": NEW_PASSWORD})
        assert late.status_code == 404 and late.json()["error"] == "invalid_reset_token"
    long = await client.post("/auth/password-reset", json={"email": "a" * 400})
    assert long.status_code == 422
