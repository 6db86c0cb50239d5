"""Email over SMTP (aiosmtplib): the delivery id is the Message-ID, so a resend is recognisably the same mail."""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notification.adapters.channels.base import ChannelError, Message
from shared.contracts.text import is_one_email_address
from shared.crypto.masking import mask_email


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
        """Return the mail for a message (also used by tests to check headers); ChannelError for an address
        that is not exactly one (it can never be sent)."""
        mail = EmailMessage()
        mail["From"] = self._s.sender
        # One structured address (never a header string parsed again): formataddr would refuse the Unicode
        # local parts contacts may give (sent with SMTPUTF8).
        mail["To"] = _one_address(message.address)
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
            # The envelope names the one recipient itself: never read from headers, where a stored address
            # like "a>,<victim@x.cn" would become two.
            await aiosmtplib.send(
                mail,
                sender=self._s.sender,
                recipients=[message.address],
                hostname=self._s.host,
                port=self._s.port,
                username=self._s.username,
                password=self._s.password,
                start_tls=self._s.starttls,
                tls_context=ssl.create_default_context() if self._s.starttls else None,
                timeout=self._s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # The one recipient refused at RCPT TO: a reply like any other (5xx: for good), not an outage.
            refusal = exc.recipients[0]
            raise _refused(refusal.code, refusal.message, message.address) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _refused(exc.code, exc.message, message.address) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ChannelError(f"SMTP unavailable: {exc}") from None
        return str(mail["Message-ID"])


def _one_address(address: str) -> Address:
    # Stored before the contact rules took exactly one address (or written around them): refused for good,
    # with the masked address, never sent to whatever else it names.
    if not is_one_email_address(address):
        masked = mask_email(address)
        raise ChannelError(
            f"电子邮箱地址 {masked} 不是单个有效地址，未发送 / the email address {masked} is not exactly one "
            "valid address: not sent",
            transient=False,
        )
    local, _, domain = address.rpartition("@")
    return Address(username=local, domain=domain)


def _refused(code: int, said: str, address: str) -> ChannelError:
    # A refusal often quotes the recipient ("550 <wang@gree.cn>: unknown"): the log keeps it masked.
    masked = re.sub(
        re.escape(address), mask_email(address), said, flags=re.IGNORECASE
    )  # servers lower-case it
    return ChannelError(f"SMTP {code}: {masked}", transient=code < 500)
