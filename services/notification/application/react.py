"""React to one recorded event: learn from it, plan its deadlines, and record who must be told (once)."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ValidationError

from services.notification.application.context import Notifying
from services.notification.application.intents import enterprise_subject, staff_subject
from services.notification.application.money import tell_the_enterprise_when_money_is_credited
from services.notification.application.money_deadlines import (
    money_timers,
    plan_money_deadlines,
    told_this_stall,
)
from services.notification.application.policies import (
    BUREAU_NAME,
    CASE_TITLE,
    CONCIERGE_CONTACT,
    FACTS,
    LEADERS,
    NO_CONTACT_LINE,
    POLICIES,
    POLICY_NEEDS,
    RATING_LINK,
    TASK,
    Known,
    TaskFacts,
)
from services.notification.application.supervision import settle_supervision
from services.notification.application.withdrawal import end_ladder, withdraw_moved_away
from services.notification.domain.deadlines import EscalationRules, ladder
from shared.contracts.calendar import WorkdayCalendarPublished
from shared.contracts.casework import (
    CoordinationTaskCancelled,
    CoordinationTaskClosed,
    CoordinationTaskDueRecomputed,
    CoordinationTaskOpened,
)
from shared.contracts.disbursement import (
    DISBURSEMENT_EVENT_MODELS,
    DisbursementOpened,
    DisbursementPaymentCredited,
    parse_disbursement_event,
)
from shared.contracts.envelope import EventEnvelope
from shared.contracts.events import CaseOpened, is_known_event, parse_event_data
from shared.contracts.notification import EscalationRulesSet
from shared.messaging.consumer import PoisonMessage
from shared.workdays.calendar import SHANGHAI, WorkdayCalendar

log = logging.getLogger(__name__)
MONEY_STREAM_TYPES = frozenset({"disbursement", "arrears", "disbursement_settings"})


async def react(n: Notifying, envelope: EventEnvelope) -> int:
    """Handle one event; return how many deliveries it added (0 for a redelivered or unrelated event)."""
    if envelope.stream_type in MONEY_STREAM_TYPES:
        return await react_to_money(n, envelope)
    if not is_known_event(envelope.event_type):
        return 0  # an event this service has no use for (a newer type, another service's)
    try:
        payload = parse_event_data(envelope.event_type, envelope.schema_version, envelope.data)
    except ValidationError as exc:
        raise PoisonMessage(f"invalid {envelope.event_type} v{envelope.schema_version}: {exc}") from None
    await n.knowledge.fold(payload, envelope)
    if isinstance(payload, CaseOpened) and payload.contact is not None:
        await n.contacts.put_sealed(
            payload.contact.subject, envelope.bureau, payload.contact.model_dump(), envelope.occurred_at
        )
    await plan_deadlines(n, payload, envelope)
    policy = POLICIES.get(type(payload))
    if policy is None:
        return 0
    if CASE_TITLE in POLICY_NEEDS.get(type(payload), frozenset()):
        await learn_the_cases_not_seen_yet(n, payload, envelope)
    n = n.for_one_event()
    intents = policy(payload, envelope, await known_for(n, payload, envelope))
    return await n.tell(intents, as_of=envelope.occurred_at)


async def learn_the_cases_not_seen_yet(n: Notifying, payload: BaseModel, envelope: EventEnvelope) -> None:
    """Learn from the opening of each case a board decision names that this service has not seen yet.

    The case and board topics are consumed apart, and either may lag (a restart, a backlog): a decision can
    come before its case's CaseOpened. Read from the case's own stream, the opening brings the enterprise's
    contact given at intake, so the enterprise is told; when it comes on its topic later, it changes nothing.
    A case already seen costs nothing more: the title read here is the one the notice needs (and is kept)."""
    for case_id in dict.fromkeys(getattr(payload, "case_ids", None) or []):
        if await n.knowledge.title(case_id):
            continue
        events = await n.recorder.read_stream(case_id)
        opened = events[0] if events else None
        if opened and opened.event_type == "CaseOpened" and opened.bureau == envelope.bureau:
            await react(n, opened)


def _case_id_of(payload: BaseModel, envelope: EventEnvelope) -> str | None:
    if envelope.stream_type == "case":
        return envelope.stream_id
    case_ids = getattr(payload, "case_ids", None) or [getattr(payload, "case_id", None)]
    return case_ids[0] if case_ids and case_ids[0] else None


async def known_for(n: Notifying, payload: BaseModel, envelope: EventEnvelope) -> Known:
    """Read what the policy for this event needs, and nothing else."""
    needs = POLICY_NEEDS.get(type(payload), frozenset())
    case_id = _case_id_of(payload, envelope)
    concierge = getattr(payload, "to_staff_id", None) or getattr(payload, "staff_id", None)
    task = None
    if CONCIERGE_CONTACT in needs and concierge:
        # The concierge and the enterprise are told too: their contacts come in the same read as the line.
        await n.contacts.hold(_people_named(payload, envelope.bureau, concierge))
    if TASK in needs and case_id:
        task = await n.deadlines.task(case_id, getattr(payload, "task_id", ""))
    return Known(
        bureau_name=await n.bureau_name(envelope.bureau) if BUREAU_NAME in needs else "",
        case_title=await _problems(n, payload, case_id) if CASE_TITLE in needs and case_id else "",
        facts=await n.knowledge.case(case_id) if FACTS in needs and case_id else None,
        leaders=tuple(await n.knowledge.leaders(envelope.bureau)) if LEADERS in needs else (),
        concierge_contact=await _contact_line(n, envelope.bureau, concierge)
        if CONCIERGE_CONTACT in needs and concierge
        else NO_CONTACT_LINE,
        task=TaskFacts(task["section"], task["due_at"]) if task else None,
        rating_link=_rating_link(n, envelope) if RATING_LINK in needs else None,
    )


async def _problems(n: Notifying, payload: BaseModel, case_id: str) -> str:
    # An enterprise handed over with several open cases: the concierge is told each problem, not the first.
    case_ids = list(dict.fromkeys(getattr(payload, "case_ids", None) or [case_id]))
    titles = [await n.knowledge.title(c) for c in case_ids if c]
    return "；".join(dict.fromkeys(t for t in titles if t))


def _people_named(payload: BaseModel, bureau: str, concierge: str) -> list[str]:
    enterprise = getattr(payload, "enterprise", None)
    named = [staff_subject(bureau, concierge)]
    return [*named, enterprise_subject(bureau, enterprise.credit_code)] if enterprise is not None else named


async def _contact_line(n: Notifying, bureau: str, staff_id: str) -> str:
    # The concierge's work line as the enterprise is told it: a mobile, else an email.
    line = await n.contacts.first_address(staff_subject(bureau, staff_id), ("sms", "email"))
    return line or NO_CONTACT_LINE


def _rating_link(n: Notifying, envelope: EventEnvelope) -> tuple[str, str]:
    # The token id is the resolution event's id: a redelivered CaseResolved names the same token, and the
    # delivery (keyed by event, recipient, channel) was recorded once anyway.
    token, claims = n.tokens.issue(
        envelope.bureau, envelope.stream_id, n.clock(), token_id=envelope.event_id.hex
    )
    expires = claims.expires_at.astimezone(SHANGHAI).strftime("%Y-%m-%d")
    return f"{n.public_url}/api/v1/feedback/{token}", expires


async def plan_deadlines(n: Notifying, payload: Any, envelope: EventEnvelope) -> None:
    """Keep each open task's ladder in step with its due date, its closing, the calendar and the rules."""
    if isinstance(payload, CoordinationTaskOpened | CoordinationTaskDueRecomputed):
        opened = payload if isinstance(payload, CoordinationTaskOpened) else None
        await _plan(n, envelope, payload.task_id, payload.due_at, opened)
    elif isinstance(payload, CoordinationTaskClosed | CoordinationTaskCancelled):
        outcome = "closed" if isinstance(payload, CoordinationTaskClosed) else "cancelled"
        task_deadline = f"{envelope.stream_id}|{payload.task_id}"
        before = await end_ladder(n, task_deadline, envelope, outcome)
        if before is not None:
            await settle_supervision(n, before, outcome, envelope)
    elif isinstance(payload, WorkdayCalendarPublished):
        await replan_all(n)
    elif isinstance(payload, EscalationRulesSet):
        await replan_when_rules_change(n, envelope.bureau, payload.version)


async def _plan(
    n: Notifying,
    envelope: EventEnvelope,
    task_id: str,
    due_at: Any,
    opened: CoordinationTaskOpened | None,
) -> None:
    calendar = await n.calendar.current()
    rules = await n.rules.current(envelope.bureau)
    known = None if opened else await n.deadlines.task(envelope.stream_id, task_id)
    opened_at = opened.opened_at if opened else (known or {}).get("task_opened_at")
    timers = ladder(calendar, due_at, rules, opened_at)
    section = opened.section if opened else (known["section"] if known else "")
    if known is not None and known.get("v", 0) < envelope.version:
        # A held "due on day D" is not true once the due date moved (unless the new ladder says it then).
        await withdraw_moved_away(n, known, timers, envelope, "due date moved")
    key = {"bureau": envelope.bureau, "case_id": envelope.stream_id, "task_id": task_id, "section": section}
    if opened_at is not None:
        key["task_opened_at"] = opened_at  # an early reminder before it is left out, on every replan too
    await n.deadlines.plan(key, due_at, envelope.version, timers)


async def replan_all(n: Notifying) -> int:
    """Move every pending step after a calendar year was published or corrected; return how many tasks."""
    calendar = await n.calendar.current()
    for doc in (docs := await n.deadlines.open_deadlines()):
        await _replan(n, doc, calendar, await n.rules.current(doc["bureau"]))
    return len(docs)


async def replan_when_rules_change(n: Notifying, bureau: str, version: int) -> int:
    """Move a bureau's pending steps to the rules in force after it changed them; return how many ladders."""
    rules = await n.rules.current(bureau)
    if version < rules.version:
        return 0  # a redelivered or replayed older change: the newer one's event replans (or did)
    calendar = await n.calendar.current()
    for doc in (docs := await n.deadlines.open_in_bureau(bureau)):
        await _replan(n, doc, calendar, rules)
    return len(docs)


async def _replan(
    n: Notifying, doc: dict[str, Any], calendar: WorkdayCalendar, rules: EscalationRules
) -> None:
    # Steps that fired for the same due moment are kept, not planned again (adapters/deadlines.py _merge).
    if doc.get("kind") is None:
        await n.deadlines.replan(doc, ladder(calendar, doc["due_at"], rules, doc.get("task_opened_at")))
    else:
        today = n.clock().astimezone(SHANGHAI).date()
        told = told_this_stall(doc)  # steps told before they carried their due stamp are not told again
        timers = [t for t in money_timers(doc, calendar, rules, today) if t.step.value not in told]
        await n.deadlines.replan(doc, timers)


async def react_to_money(n: Notifying, envelope: EventEnvelope) -> int:
    """Learn which enterprise a disbursement pays, keep its ladders; tell it when a payment is credited."""
    if (envelope.event_type, envelope.schema_version) not in DISBURSEMENT_EVENT_MODELS:
        return 0  # a newer event or version this service does not know yet
    try:
        payload = parse_disbursement_event(envelope.event_type, envelope.schema_version, envelope.data)
    except ValidationError as exc:
        raise PoisonMessage(f"invalid {envelope.event_type}: {exc}") from None
    if isinstance(payload, DisbursementOpened):
        await n.disbursements.learn(payload, envelope)
    await plan_money_deadlines(n, payload, envelope)
    if not isinstance(payload, DisbursementPaymentCredited):
        return 0
    known = await n.disbursements.get(payload.disbursement_id)
    if known is None:
        # Its opening is on the same stream, so it came first; gone only if the stream was never opened here.
        raise PoisonMessage(f"payment credited on unknown disbursement {payload.disbursement_id}")
    return await n.tell(
        tell_the_enterprise_when_money_is_credited(payload, envelope, known), as_of=envelope.occurred_at
    )
