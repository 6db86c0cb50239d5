"""A resolution the enterprise rated through its own link is not rated over by its concierge (step 6): the
enterprise's word is the rating, and its link's 201 stays true."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.contracts.envelope import Actor
from shared.contracts.notification import FEEDBACK_STREAM_TYPE, feedback_stream
from shared.eventstore.mongo import MongoRecorder
from shared.eventstore.recorder import NewEvent, Recording
from tests.integration.test_assignment import add_staff, bureau, concierge_of, open_case, resolve
from tests.support import eventually

pytestmark = pytest.mark.integration
__all__ = ["bureau"]  # the fixture, imported for the test below


async def test_the_concierge_cannot_rate_a_resolution_the_enterprise_rated_through_its_link(
    bureau: httpx.AsyncClient, stack_db: AsyncDatabase
) -> None:
    await add_staff(bureau, "钱科长", "section_chief")
    case_id = await open_case(bureau, 8_471)
    await concierge_of(bureau, case_id)
    await resolve(bureau, case_id)
    recorder = MongoRecorder(stack_db.client, stack_db)
    [resolution] = [e for e in await recorder.read_stream(case_id) if e.event_type == "CaseResolved"]
    token_id = resolution.event_id.hex  # the link the notification service sent for this resolution
    # The enterprise's rating, just recorded by its link and not yet applied to the case (the consumer lags).
    link = Recording(
        feedback_stream(token_id),
        FEEDBACK_STREAM_TYPE,
        0,
        resolution.bureau,
        Actor(kind="enterprise", id="e", bureau=resolution.bureau),
        f"feedback:{token_id}",
        uuid.uuid4(),
    )
    rated = {"case_id": case_id, "token_id": token_id, "rating": 5, "comment": "满意"}
    await recorder.append(link, [NewEvent("EnterpriseRatedService", 1, rated)])

    over = await bureau.post(f"/api/v1/cases/{case_id}/rating", json={"rating": 2, "comment": "代填"})

    assert over.status_code == 409 and "through its link" in over.text

    async def the_enterprises_rating() -> list | None:
        view = (await bureau.get(f"/api/v1/cases/{case_id}")).json()
        return view["ratings"] or None

    [kept] = await eventually(the_enterprises_rating, 60, "the link's rating on the case")
    assert kept["rating"] == 5
