"""E-mail through SMTP (aiosmtplib): the outbox channel for notifications addressed to a person by e-mail (password
reset codes); every other notification goes to the log, as before."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from core.outbox import SECRET, Channel, LogChannel, Notification
from core.settings import Settings

EMAIL = "email"  # a body field: the address a notification is e-mailed to


class EmailChannel:
    """Sends notifications that carry an `email` address over SMTP (their `text`, with the secret put in);
    the others go to `fallback`."""

    def __init__(self, settings: Settings, *, fallback: Channel | None = None) -> None:
        assert settings.smtp_host is not None
        self.settings = settings
        self.fallback = fallback or LogChannel()

    async def send(self, notification: Notification) -> None:
        address = notification.body.get(EMAIL)
        if not isinstance(address, str):
            await self.fallback.send(notification)
            return
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = address
        message["Subject"] = notification.subject
        text = str(notification.body.get("text", notification.subject))
        message.set_content(text.replace("{secret}", str(notification.body.get(SECRET, ""))))
        password = self.settings.smtp_password.get_secret_value() if self.settings.smtp_password else None
        await aiosmtplib.send(
            message,
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            start_tls=self.settings.smtp_starttls,
            username=self.settings.smtp_username,
            password=password,
            timeout=30,
        )


def channel_for(settings: Settings) -> Channel:
    """SMTP when a server is configured, else the log."""
    return EmailChannel(settings) if settings.smtp_host is not None else LogChannel()
