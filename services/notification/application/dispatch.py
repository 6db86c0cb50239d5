"""Send what is due: claim, send through the channel plugin, keep the outcome. Retries are data, not sleeps.

A channel that is down delays nobody else: every claimed delivery is sent concurrently, each bounded by the
channel's own timeout, and a failure only reschedules that delivery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from services.notification.adapters.channels.base import Channel, ChannelError, Message
from services.notification.application.ports import AddressBook, DeliveryStore
from services.notification.domain.deliveries import Delivery, RetryPolicy, Status, after_failure
from shared.crypto.masking import mask_address

log = logging.getLogger(__name__)
# Not a failure: nobody is left to tell, and /healthz counts failures for operators to look into.
ERASED_REASON = "联系人已擦除 / the contact was erased"


class Recipients(AddressBook, Protocol):
    """The address book as the sender reads it: an address, and whether a recipient without one was erased."""

    async def erased(self, recipient: str) -> bool:
        """Tell whether the recipient's personal data was erased (crypto-shredding)."""
        ...


@dataclass
class DispatchStats:
    """Counters for /healthz: what was sent, retried and given up on since start."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    last_failures: list[str] = field(default_factory=list)

    def note_failure(self, delivery: Delivery) -> None:
        """Remember a given-up delivery (its reason, never its address)."""
        self.failed += 1
        self.last_failures = [
            *self.last_failures[-9:],
            f"{delivery.id} {delivery.channel}: {delivery.last_error}",
        ]


def _quick_retries(attempts: int) -> AsyncRetrying:
    # A blip (a dropped connection) is retried at once a couple of times; longer outages become data retries.
    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.2, max=2),
        retry=retry_if_exception(lambda e: isinstance(e, ChannelError) and e.transient),
        reraise=True,
    )


class RoundAddresses:
    """One round's address book: a recipient's address on a channel is opened once a round, not per delivery.

    An erasure during the round reaches the next one, as it would a send already under way.
    """

    def __init__(self, book: Recipients) -> None:
        self._book = book
        self._opened: dict[tuple[str, str], asyncio.Future[str | None]] = {}
        self._erased: dict[str, asyncio.Future[bool]] = {}

    async def address(self, recipient: str, channel: str) -> str | None:
        """Return the recipient's address on a channel, opening it at most once this round."""
        key = (recipient, channel)
        if key not in self._opened:  # concurrent deliveries to one recipient share the one look-up
            self._opened[key] = asyncio.ensure_future(self._book.address(recipient, channel))
        return await self._opened[key]

    async def erased(self, recipient: str) -> bool:
        """Tell whether the recipient was erased, asking at most once this round."""
        if recipient not in self._erased:
            self._erased[recipient] = asyncio.ensure_future(self._book.erased(recipient))
        return await self._erased[recipient]


@dataclass
class Dispatcher:
    """Sends claimed deliveries through the configured channels."""

    store: DeliveryStore
    channels: Mapping[str, Channel]
    addresses: Recipients
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())
    lease: timedelta = timedelta(minutes=2)
    quick_attempts: int = 2
    stats: DispatchStats = field(default_factory=DispatchStats)
    # Asked before sending: a reason to withdraw a delivery that is no longer true (None: send it).
    still_true: Callable[[Delivery], Awaitable[str | None]] | None = None

    async def run_once(self, limit: int = 100) -> int:
        """Send one round of due deliveries; return how many were claimed."""
        claimed = await self.store.claim_due(self.clock(), limit, self.lease)
        book = RoundAddresses(self.addresses)
        await asyncio.gather(*(self._deliver(d, book) for d in claimed))
        return len(claimed)

    async def _deliver(self, delivery: Delivery, book: Recipients) -> None:
        untrue = await self.still_true(delivery) if self.still_true else None
        if untrue is not None:
            await self.store.save_outcome(replace(delivery, status=Status.WITHDRAWN, withdrawn_reason=untrue))
            return
        outcome = await self._attempt(delivery, book)
        await self.store.save_outcome(outcome)
        if outcome.status is Status.SENT:
            self.stats.sent += 1
        elif outcome.status is Status.WITHDRAWN:
            return  # its recipient was erased: neither sent nor a failure
        elif outcome.status is Status.FAILED:
            self.stats.note_failure(outcome)
            log.warning(
                "delivery %s on %s failed for good: %s", outcome.id, outcome.channel, outcome.last_error
            )
        else:
            self.stats.retried += 1

    async def _attempt(self, delivery: Delivery, book: Recipients) -> Delivery:
        now = self.clock()
        channel = self.channels.get(delivery.channel)
        if channel is None:
            return after_failure(
                delivery, f"channel {delivery.channel} is not configured", now, self.policy, False
            )
        address = await book.address(delivery.recipient, delivery.channel)
        if address is None:
            if await book.erased(delivery.recipient):
                return replace(
                    delivery, status=Status.WITHDRAWN, withdrawn_reason=ERASED_REASON, address_masked=None
                )
            return after_failure(delivery, "no address on this channel (none given)", now, self.policy, False)
        # Kept whatever the outcome: the log shows where a retry or a failure was meant to go (masked).
        delivery = replace(delivery, address_masked=mask_address(delivery.channel, address))
        message = Message(
            delivery.id, address, delivery.subject, delivery.body, delivery.language, delivery.escalation
        )
        try:
            async for attempt in _quick_retries(self.quick_attempts):
                with attempt:
                    receipt = await channel.send(message)
        except ChannelError as exc:
            return after_failure(delivery, exc.reason, self.clock(), self.policy, exc.transient)
        except Exception as exc:  # a plugin bug must fail this delivery visibly, not stop the others
            log.exception("channel %s raised", delivery.channel)
            return after_failure(
                delivery, f"{exc.__class__.__name__}: {exc}", self.clock(), self.policy, True
            )
        return replace(
            delivery,
            status=Status.SENT,
            attempts=delivery.attempts + 1,
            sent_at=self.clock(),
            receipt=receipt,
            last_error=None,
            address_masked=mask_address(delivery.channel, address),
        )
