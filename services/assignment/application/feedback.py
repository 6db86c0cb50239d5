"""Policy: an enterprise's rating through its link (评菜) is recorded on the case by the casework rule."""

from __future__ import annotations

import logging

from services.assignment.application.boards import Cases, Context
from services.assignment.domain.casework import StepRefused
from shared.contracts.envelope import EventEnvelope
from shared.contracts.notification import EnterpriseRatedService
from shared.contracts.text import read_stored

log = logging.getLogger(__name__)


async def record_the_enterprises_rating_on_its_case(envelope: EventEnvelope, *, cases: Cases) -> bool | None:
    """Apply the rating as step 6 with the enterprise as actor; 1 or 2 reopens the case, as for any rating."""
    if envelope.event_type != "EnterpriseRatedService":
        return None
    rated = read_stored(EnterpriseRatedService, envelope.data)
    context = Context(
        bureau=envelope.bureau,
        actor=envelope.actor,  # the enterprise, as the rating link recorded it
        command_id=f"assignment:record_the_enterprises_rating:{envelope.event_id}",
        correlation_id=envelope.correlation_id,
        causation_id=envelope.event_id,
    )
    try:
        recorded = await cases.decide(
            context,
            rated.case_id,
            lambda case: case.collect_rating(rated.rating, rated.comment, for_resolution=rated.token_id),
        )
    except StepRefused as refused:
        # E.g. the resolution was rated in person meanwhile: the enterprise's rating stays on its feedback
        # stream, and the case keeps the one it has.
        log.info("rating of %s through its link not applied: %s", rated.case_id, refused)
        return False
    return bool(recorded)
