"""The enterprise rates the service itself through its rating link (评菜): once, before the link expires."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.notification.application.context import Notifying
from services.notification.domain.feedback_tokens import FeedbackClaims
from shared.contracts.envelope import Actor
from shared.contracts.notification import FEEDBACK_STREAM_TYPE, EnterpriseRatedService, feedback_stream
from shared.eventstore.recorder import ConcurrencyError, NewEvent, Recording


class LinkAlreadyUsed(Exception):
    """The rating link was used before: a link rates once."""


class CaseUnknown(Exception):
    """The link names a case this service does not know (never opened, or not yet seen)."""


class NotAwaitingARating(Exception):
    """The link's resolution was rated already (its concierge recorded the enterprise's rating), or the case was
    reopened (and maybe resolved again, with a link of its own): the link would rate nothing, and must not say
    it did."""


RATING_STEPS = frozenset({"CaseResolved", "RatingCollected", "CaseReopened"})


async def awaits_this_links_rating(n: Notifying, case_id: str, token_id: str) -> bool:
    """Whether the case's latest resolution is the link's (its token id is that CaseResolved's event id) and is
    not rated yet, as the case's own stream in the event store says: never a projection that may lag."""
    steps = [e for e in await n.recorder.read_stream(case_id) if e.event_type in RATING_STEPS]
    return bool(steps) and steps[-1].event_type == "CaseResolved" and steps[-1].event_id.hex == token_id


@dataclass(frozen=True)
class RatingPage:
    """What the enterprise sees before rating."""

    case_id: str
    enterprise_name: str
    concierge_name: str
    case_title: str
    expires_at: datetime  # answered in Asia/Shanghai (+08:00) by the entry point, as every time
    used: bool
    rateable: bool  # unused, and the case's resolution still awaits its rating


async def show(n: Notifying, claims: FeedbackClaims) -> RatingPage:
    """Return what is being rated, and whether the link was used."""
    facts = await n.knowledge.case(claims.case_id)
    if facts is None or facts.bureau != claims.bureau:
        raise CaseUnknown(claims.case_id)
    used = bool(await n.recorder.read_stream(feedback_stream(claims.token_id)))
    rateable = not used and await awaits_this_links_rating(n, claims.case_id, claims.token_id)
    return RatingPage(
        facts.case_id,
        facts.enterprise_name,
        facts.concierge_name or "",
        facts.title,
        claims.expires_at,
        used,
        rateable,
    )


async def rate(n: Notifying, claims: FeedbackClaims, rating: int, comment: str) -> dict[str, Any]:
    """Record the enterprise's rating once; the assignment service applies it through the casework rule."""
    facts = await n.knowledge.case(claims.case_id)
    if facts is None or facts.bureau != claims.bureau:
        raise CaseUnknown(claims.case_id)
    if await n.recorder.read_stream(feedback_stream(claims.token_id)):
        raise LinkAlreadyUsed(claims.token_id)
    if not await awaits_this_links_rating(n, claims.case_id, claims.token_id):
        raise NotAwaitingARating(claims.case_id)
    event = EnterpriseRatedService(
        case_id=claims.case_id, token_id=claims.token_id, rating=rating, comment=comment
    )
    recording = Recording(
        stream_id=feedback_stream(claims.token_id),
        stream_type=FEEDBACK_STREAM_TYPE,
        expected_version=0,
        bureau=claims.bureau,
        actor=Actor(
            kind="enterprise", id=facts.credit_code, bureau=claims.bureau, name=facts.enterprise_name
        ),
        command_id=f"feedback:{claims.token_id}",
        correlation_id=uuid.uuid4(),
    )
    try:
        result = await n.recorder.append(
            recording, [NewEvent("EnterpriseRatedService", 1, event.model_dump(mode="json"))]
        )
    except ConcurrencyError:
        raise LinkAlreadyUsed(claims.token_id) from None
    if result.duplicate:
        raise LinkAlreadyUsed(claims.token_id)
    return {"case_id": claims.case_id, "rating": rating, "recorded": True}
