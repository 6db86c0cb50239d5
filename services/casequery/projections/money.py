"""The case's money: one document per disbursement linked to a case, folded from disbursement.events.v1.

Kept in its own collection (`case_money`), never inside the case view: the view's writes are guarded by the
case stream's version, these by the disbursement stream's. Each stage or payment event carries where the
disbursement stands after it (status, credited total, arrival and full-credit times), so the newest envelope
alone sets the entry: an older or repeated one (redelivery, replay) changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.contracts.amounts import format_amount
from shared.contracts.disbursement import (
    DisbursementOpened,
    DisbursementPaymentCredited,
    DisbursementStageReported,
    parse_disbursement_event,
)
from shared.contracts.envelope import EventEnvelope
from shared.messaging.consumer import PoisonMessage
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar

CASE_MONEY = "case_money"
DISBURSEMENT_STREAM = "disbursement"  # the stream type the disbursement service records them under
Money = dict[str, Any]


def fold_money(doc: Money | None, envelope: EventEnvelope) -> Money | None:
    """Return the disbursement's document after the event (the same object when nothing changes)."""
    if envelope.stream_type != DISBURSEMENT_STREAM:
        return doc
    try:
        event = parse_disbursement_event(envelope.event_type, envelope.schema_version, envelope.data)
    except ValueError as exc:  # pydantic's ValidationError too: no retry can fold it, dead-letter it
        raise PoisonMessage(f"invalid {envelope.event_type} v{envelope.schema_version}: {exc}") from None
    if isinstance(event, DisbursementOpened):
        if doc is not None or event.case_id is None:
            return doc  # already linked (a replay), or money no case asked for
        return {
            "_id": event.disbursement_id,
            "stream_id": envelope.stream_id,
            "case_id": event.case_id,
            "bureau": envelope.bureau,
            # The case shows it only when its enterprise is this one: the link is only the caller's word.
            "credit_code": event.enterprise.credit_code,
            "version": envelope.version,
            "entry": {
                "disbursement_id": event.disbursement_id,
                "allocated": format_amount(event.allocated),
                "credited": "0.00",
                "status": "opened",
                "source": event.source,
                "fund_type": event.fund_type.value,
                "policy_reference": event.policy_reference,
                "opened_at": envelope.occurred_at,
                "allocation_received_at": None,
                "fully_credited_at": None,
            },
        }
    if doc is None or envelope.version <= doc["version"]:
        return doc  # not linked to a case, or not newer than what is stored
    entry = dict(doc["entry"])
    if (
        isinstance(event, DisbursementStageReported | DisbursementPaymentCredited)
        and event.status is not None
    ):
        entry.update(
            status=event.status.value,
            credited=format_amount(event.credited_total) if event.credited_total is not None else "0.00",
            allocation_received_at=event.allocation_received_at,
            fully_credited_at=event.fully_credited_at,
        )
    return {**doc, "version": envelope.version, "entry": entry}


def _aware(moment: datetime) -> datetime:
    # MongoDB hands stored times back without a zone unless the client is tz-aware; they are UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def time_to_account(
    received: datetime | None, credited: datetime | None, calendar: WorkdayCalendar
) -> dict[str, Any] | None:
    """Return hours and working days from the allocation's arrival to full credit; None until both are known.

    As the disbursement service counts it: within one working day (一天到账) means at most one working day
    lies after the arrival's day up to the credited day, in Asia/Shanghai.
    """
    if received is None or credited is None:
        return None
    received, credited = _aware(received), _aware(credited)
    days = calendar.workdays_between(
        received.astimezone(SHANGHAI).date(), credited.astimezone(SHANGHAI).date()
    )
    return {
        "hours": round((credited - received).total_seconds() / 3600, 2),
        "workdays": days,
        "within_one_working_day": days <= 1 and credited >= received,
    }
