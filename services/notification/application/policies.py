"""Policies as sentences: which events tell whom what. Pure functions of the event and what is known."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.notification.application.intents import (
    Intent,
    enterprise_subject,
    section_subject,
    staff_subject,
)
from shared.contracts.assignment import ConciergeAssigned, ConciergeReassigned, EnterpriseQueued
from shared.contracts.casework import (
    CaseReopened,
    CaseResolved,
    CoordinationTaskChased,
    CoordinationTaskOpened,
)
from shared.contracts.envelope import EventEnvelope
from shared.workdays.calendar import SHANGHAI

NO_CONTACT_LINE = "请通过本局办公室联系"


@dataclass(frozen=True)
class CaseFacts:
    """What the notification service knows of a case from its events."""

    case_id: str
    bureau: str
    enterprise_name: str
    credit_code: str
    title: str = ""
    concierge_id: str | None = None
    concierge_name: str | None = None
    last_rating: int | None = None
    last_comment: str = ""
    withdrawn_from: str | None = None  # the concierge last taken off the case, while it has none


@dataclass(frozen=True)
class TaskFacts:
    """A coordination task as the deadlines know it."""

    section: str
    due_at: datetime


@dataclass(frozen=True)
class Known:
    """What a policy may use besides the event: read by the caller, only the parts the policy needs."""

    bureau_name: str = ""
    # The problem, as the case was opened with it; "" before its CaseOpened was seen (the template then
    # points the concierge to the case's details).
    case_title: str = ""  # the problems as the cases were opened, joined by ；("" before any was seen)
    facts: CaseFacts | None = None
    leaders: tuple[tuple[str, str], ...] = ()  # (staff id, name) of 局长 and 党支部书记
    concierge_contact: str = NO_CONTACT_LINE
    task: TaskFacts | None = None
    rating_link: tuple[str, str] | None = None  # (link, expires on)


def day_of(at: datetime) -> str:
    """Return a moment's date as users read it (Asia/Shanghai)."""
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d")


def _intent(
    env: EventEnvelope,
    case_id: str | None,
    recipient: str,
    template: str,
    variables: dict[str, Any],
    escalation: bool = False,
    cause_suffix: str = "",
    concierge_id: str | None = None,
) -> Intent:
    return Intent(
        f"{env.event_id}{cause_suffix}",
        env.bureau,
        case_id,
        recipient,
        template,
        variables,
        escalation,
        concierge_id,
    )


def tell_the_concierge_and_the_enterprise_when_assigned(
    e: ConciergeAssigned, env: EventEnvelope, k: Known
) -> list[Intent]:
    """An assignment tells the concierge (which enterprise, what problem) and the enterprise (who, how to reach)."""
    case_id = e.case_ids[0] if e.case_ids else ""
    common = {
        "enterprise_name": e.enterprise.name,
        "credit_code": e.enterprise.credit_code,
        "case_id": case_id,
    }
    introduce = {
        **common,
        "concierge_name": e.staff_name,
        "concierge_contact": k.concierge_contact,
        "bureau_name": k.bureau_name,
    }
    return [
        _intent(
            env,
            case_id,
            staff_subject(env.bureau, e.staff_id),
            "concierge_assigned",
            # The decision's reason explains the rule to an auditor (in English), never the problem.
            {**common, "concierge_name": e.staff_name, "problem": k.case_title, "handover_reason": ""},
            concierge_id=e.staff_id,
        ),
        _intent(
            env,
            case_id,
            enterprise_subject(env.bureau, e.enterprise.credit_code),
            "concierge_introduced",
            introduce,
            concierge_id=e.staff_id,
        ),
    ]


def _handover_reason(e: ConciergeReassigned) -> str:
    # Only leadership's own words are passed on; a move by the rules (leave, departure) explains itself in
    # English for the record, which a concierge must not be sent.
    return e.reason if e.approved_by else ""


def tell_the_new_concierge_when_reassigned(
    e: ConciergeReassigned, env: EventEnvelope, k: Known
) -> list[Intent]:
    """A reassignment tells the new concierge, and the enterprise unless leadership said not to."""
    case_id = e.case_ids[0] if e.case_ids else ""
    common = {
        "enterprise_name": e.enterprise.name,
        "credit_code": e.enterprise.credit_code,
        "case_id": case_id,
    }
    intents = [
        _intent(
            env,
            case_id,
            staff_subject(env.bureau, e.to_staff_id),
            "concierge_assigned",
            {
                **common,
                "concierge_name": e.to_staff_name,
                "problem": k.case_title,
                "handover_reason": _handover_reason(e),
            },
            concierge_id=e.to_staff_id,
        ),
    ]
    if e.notify_enterprise:
        introduce = {
            **common,
            "concierge_name": e.to_staff_name,
            "concierge_contact": k.concierge_contact,
            "bureau_name": k.bureau_name,
        }
        intents.append(
            _intent(
                env,
                case_id,
                enterprise_subject(env.bureau, e.enterprise.credit_code),
                "concierge_introduced",
                introduce,
                concierge_id=e.to_staff_id,
            )
        )
    return intents


def ask_leadership_for_a_fallback_when_an_enterprise_waits(
    e: EnterpriseQueued, env: EventEnvelope, k: Known
) -> list[Intent]:
    """A waiting enterprise asks leadership to approve a fallback concierge (escalations ignore quiet hours)."""
    return [
        _intent(
            env,
            e.case_id,
            staff_subject(env.bureau, staff_id),
            "fallback_waiting",
            {"recipient_name": name, "enterprise_name": e.enterprise.name, "case_id": e.case_id},
            escalation=True,
        )
        for staff_id, name in k.leaders
    ]


def _task_variables(facts: CaseFacts, section: str, due_at: datetime) -> dict[str, str]:
    return {
        "case_id": facts.case_id,
        "enterprise_name": facts.enterprise_name,
        "concierge_name": facts.concierge_name or "",
        "section": section,
        "due_date": day_of(due_at),
    }


def ask_the_section_when_a_task_is_opened(
    e: CoordinationTaskOpened, env: EventEnvelope, k: Known
) -> list[Intent]:
    """An opened coordination task asks its section to act by the due date."""
    if k.facts is None:
        return []
    variables = {**_task_variables(k.facts, e.section, e.due_at), "request": e.description}
    return [_intent(env, k.facts.case_id, section_subject(env.bureau, e.section), "task_opened", variables)]


def pass_a_chase_on_to_the_section(e: CoordinationTaskChased, env: EventEnvelope, k: Known) -> list[Intent]:
    """A chase (催办) by the concierge is passed on to the section."""
    if k.facts is None or k.task is None:
        return []
    variables = {**_task_variables(k.facts, k.task.section, k.task.due_at), "note": e.note}
    return [
        _intent(env, k.facts.case_id, section_subject(env.bureau, k.task.section), "task_chased", variables)
    ]


def tell_the_enterprise_and_invite_a_rating_when_resolved(
    e: CaseResolved, env: EventEnvelope, k: Known
) -> list[Intent]:
    """A resolved case tells the enterprise and sends it the single-use rating link (评菜)."""
    if k.facts is None:
        return []
    recipient = enterprise_subject(env.bureau, k.facts.credit_code)
    base = {"case_id": k.facts.case_id, "enterprise_name": k.facts.enterprise_name}
    intents = [_intent(env, k.facts.case_id, recipient, "case_resolved", {**base, "outcome": e.summary})]
    if k.rating_link is not None:
        link, expires_on = k.rating_link
        invitation = {
            **base,
            "concierge_name": k.facts.concierge_name or "",
            "link": link,
            "expires_on": expires_on,
        }
        intents.append(
            _intent(env, k.facts.case_id, recipient, "rating_invitation", invitation, cause_suffix=":rating")
        )
    return intents


def tell_leadership_when_a_low_rating_reopens_a_case(
    e: CaseReopened, env: EventEnvelope, k: Known
) -> list[Intent]:
    """A rating of 1 or 2 reopens the case and tells leadership (an escalation)."""
    if k.facts is None or not e.flagged_for_leadership:
        return []
    return [
        _intent(
            env,
            k.facts.case_id,
            staff_subject(env.bureau, staff_id),
            "low_rating",
            {
                "recipient_name": name,
                "enterprise_name": k.facts.enterprise_name,
                "case_id": k.facts.case_id,
                "score": k.facts.last_rating or "",
                "comment": k.facts.last_comment or "（无）",
            },
            escalation=True,
        )
        for staff_id, name in k.leaders
    ]


POLICIES: dict[type, Callable[[Any, EventEnvelope, Known], list[Intent]]] = {
    ConciergeAssigned: tell_the_concierge_and_the_enterprise_when_assigned,
    ConciergeReassigned: tell_the_new_concierge_when_reassigned,
    EnterpriseQueued: ask_leadership_for_a_fallback_when_an_enterprise_waits,
    CoordinationTaskOpened: ask_the_section_when_a_task_is_opened,
    CoordinationTaskChased: pass_a_chase_on_to_the_section,
    CaseResolved: tell_the_enterprise_and_invite_a_rating_when_resolved,
    CaseReopened: tell_leadership_when_a_low_rating_reopens_a_case,
}


# What each policy reads besides its event (names of Known's fields): the caller reads nothing else, so an
# event whose policy needs no case facts costs no read of them. A unit test fails if a policy uses more.
FACTS, CASE_TITLE, BUREAU_NAME, LEADERS, CONCIERGE_CONTACT, TASK, RATING_LINK = (
    "facts",
    "case_title",
    "bureau_name",
    "leaders",
    "concierge_contact",
    "task",
    "rating_link",
)
POLICY_NEEDS: dict[type, frozenset[str]] = {
    ConciergeAssigned: frozenset({CASE_TITLE, BUREAU_NAME, CONCIERGE_CONTACT}),
    ConciergeReassigned: frozenset({CASE_TITLE, BUREAU_NAME, CONCIERGE_CONTACT}),
    EnterpriseQueued: frozenset({LEADERS}),
    CoordinationTaskOpened: frozenset({FACTS}),
    CoordinationTaskChased: frozenset({FACTS, TASK}),
    CaseResolved: frozenset({FACTS, RATING_LINK}),
    CaseReopened: frozenset({FACTS, LEADERS}),
}
