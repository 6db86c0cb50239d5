"""Email over SMTP (aiosmtplib): the delivery id is the Message-ID, so a resend is recognisably the same mail."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notification.adapters.channels.base import ChannelError, Message


@dataclass(frozen=True)
class SmtpSettings:
    """Where and as whom mail is sent."""

    host: str
    port: int = 25
    sender: str = "concierge@gaoxin.gov.cn"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0


class EmailChannel:
    """Sends each message as one plain-text UTF-8 mail."""

    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self._s = settings

    def build(self, message: Message) -> EmailMessage:
        """Return the mail for a message (also used by tests to check headers)."""
        mail = EmailMessage()
        mail["From"] = self._s.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{message.idempotency_key}@concierge.notification>"
        if message.escalation:
            mail["Importance"] = "high"
        mail.set_content(message.body, charset="utf-8")
        return mail

    async def send(self, message: Message) -> str:
        """Send one mail; connection problems and 4xx replies are transient, 5xx replies permanent."""
        mail = self.build(message)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self._s.host,
                port=self._s.port,
                username=self._s.username,
                password=self._s.password,
                start_tls=self._s.starttls,
                tls_context=ssl.create_default_context() if self._s.starttls else None,
                timeout=self._s.timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise ChannelError(f"SMTP {exc.code}: {exc.message}", transient=exc.code < 500) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ChannelError(f"SMTP unavailable: {exc}") from None
        return str(mail["Message-ID"])
