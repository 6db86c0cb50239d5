"""A notification to one recipient on one channel: decided once, sent once, its outcome kept.

The delivery id is derived from (cause, recipient, channel), so a redelivered event or a rerun timer decides
the same delivery again and the store keeps the first: exactly one per (event, recipient, channel).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  # intent recorded, not yet sent (or waiting for a retry or the end of quiet hours)
    SENT = "sent"
    FAILED = "failed"  # gave up after the retry limit, or can never be sent (no address): the reason is kept
    WITHDRAWN = "withdrawn"  # a ladder step's message no longer true before it was sent: never sent


def ladder_cause(deadline_id: str, step: str, day: str) -> str:
    """Return the cause of a ladder step's deliveries: the deadline, the step and the day it fired for."""
    return f"timer:{deadline_id}:{step}:{day}"


def delivery_id(cause: str, recipient: str, channel: str) -> str:
    """Return the id of the delivery of a cause (event id or timer id) to a recipient on a channel."""
    return hashlib.sha256(f"{cause}|{recipient}|{channel}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Delivery:
    """One message to one recipient on one channel."""

    id: str
    cause: str  # the event id or timer id that caused it
    bureau: str
    case_id: str | None
    recipient: str  # subject id, e.g. staff:finance:s-1, enterprise:9144..., section:finance:规划科
    channel: str
    template: str
    language: str
    subject: str
    body: str
    not_before: datetime
    created_at: datetime
    escalation: bool = False
    status: Status = Status.PENDING
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    receipt: str | None = None
    address_masked: str | None = None
    history: tuple[str, ...] = field(default_factory=tuple)
    withdrawn_reason: str | None = None  # why a withdrawn delivery was never sent (the event that ended it)
    concierge_id: str | None = None  # an assignment message: whose assignment it announces


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff between attempts, and when to give up."""

    max_attempts: int = 5
    first_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(minutes=30)

    def next_attempt(self, delivery: Delivery, now: datetime) -> datetime | None:
        """Return when to try again after a failed attempt, or None to give up."""
        if delivery.attempts >= self.max_attempts:
            return None
        delay = min(self.first_delay * (2 ** (delivery.attempts - 1)), self.max_delay)
        return now + delay


def after_failure(
    delivery: Delivery, error: str, now: datetime, policy: RetryPolicy, transient: bool
) -> Delivery:
    """Return the delivery after a failed attempt: scheduled again, or failed with the reason."""
    tried = replace(delivery, attempts=delivery.attempts + 1, last_error=error)
    retry_at = policy.next_attempt(tried, now) if transient else None
    if retry_at is None:
        return replace(tried, status=Status.FAILED)
    return replace(tried, not_before=retry_at)
