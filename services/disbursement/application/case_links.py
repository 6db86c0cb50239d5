"""A disbursement or arrears may name the case it answers: a case of the same bureau and enterprise only."""

from __future__ import annotations

from services.disbursement.domain import rules
from services.disbursement.domain.rules import CaseOpening
from shared.eventstore.recorder import EventRecorder


async def case_opening(case_id: str, *, recorder: EventRecorder) -> CaseOpening | None:
    """Return what the case was opened as, from its CaseOpened in the event store (None: no such case)."""
    # Read from the case's own stream, not from a projection fed by Kafka: intake appends CaseOpened before it
    # answers 201, so a case opened a moment ago is known here at once.
    events = await recorder.read_stream(case_id)
    first = events[0] if events else None
    if first is None or first.stream_type != "case" or first.event_type != "CaseOpened":
        return None
    enterprise = first.data.get("enterprise")
    credit_code = enterprise.get("credit_code") if isinstance(enterprise, dict) else None
    return CaseOpening(bureau=first.bureau, credit_code=str(credit_code))


async def refuse_a_link_to_another_case(
    case_id: str | None, credit_code: str, bureau: str, *, recorder: EventRecorder
) -> None:
    """Refuse a case link not shaped like a case id, or naming no case of this bureau and enterprise."""
    rules.refuse_what_is_not_a_case_id(case_id)
    if case_id is not None:
        opening = await case_opening(case_id, recorder=recorder)
        rules.refuse_a_case_of_another_enterprise(case_id, opening, bureau, credit_code)
