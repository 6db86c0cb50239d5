"""Ports of the notification service: where deliveries, timers and contacts are kept (Mongo, or fakes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from services.notification.domain.deliveries import Delivery


class DeliveryStore(Protocol):
    """Deliveries: the intent before sending, the outcome after."""

    async def record(self, delivery: Delivery) -> bool:
        """Record a delivery's intent; False when it was recorded before (same event, recipient, channel)."""
        ...

    async def record_all(self, deliveries: list[Delivery]) -> int:
        """Record several intents in one write; return how many were new."""
        ...

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Delivery]:
        """Claim pending deliveries due by now for one sending round (a crashed sender's claim lapses)."""
        ...

    async def save_outcome(self, delivery: Delivery) -> None:
        """Keep a delivery's outcome (sent, retry later, failed) and release the claim."""
        ...


class AddressBook(Protocol):
    """Where a recipient is reached on a channel (personal data: opened only to send)."""

    async def address(self, recipient: str, channel: str) -> str | None:
        """Return the recipient's address on a channel, or None (none given, or erased)."""
        ...
