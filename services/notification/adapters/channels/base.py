"""The channel plugin interface: one class per way of reaching people, all sending a Message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ChannelError(Exception):
    """A send failed; transient ones are retried with backoff, permanent ones fail at once."""

    def __init__(self, reason: str, *, transient: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.transient = reason, transient


@dataclass(frozen=True)
class Message:
    """What a channel sends: the rendered text, the address, and the key that makes a resend harmless."""

    idempotency_key: str  # the delivery id: channels that accept a key get it; email uses it as Message-ID
    address: str
    subject: str
    body: str
    language: str = "zh-CN"
    escalation: bool = False


class Channel(Protocol):
    """A way of reaching a person; `send` returns a receipt (message id) or raises ChannelError."""

    name: str

    async def send(self, message: Message) -> str:
        """Send one message; raise ChannelError on failure."""
        ...
