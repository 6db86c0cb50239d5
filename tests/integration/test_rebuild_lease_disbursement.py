"""The disbursement rebuild under the same lease (real SecantusDB): one at a time, and a catch-up never left undone."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.disbursement import bootstrap as disbursement_bootstrap
from services.disbursement.projections.rebuild import finish_interrupted as finish_disbursements
from services.disbursement.projections.rebuild import rebuild as disbursement_rebuild
from services.disbursement.projections.store import POINTERS, VIEWS
from services.disbursement.settings import DisbursementSettings
from shared.auth.keys import ApiKeyStore, Role
from shared.eventstore.mongo import MongoRecorder
from shared.readmodels.generations import Generations
from shared.readmodels.lease import LEASE_ID, RebuildLease, RebuildRunning
from shared.workdays.published import PublishedCalendar as Calendars
from tests.integration.rebuild_lease_support import (
    DiesAfterItsFlip,
    DiesWithItsLease,
    Killed,
    opened,
    without_kafka,
)
from tests.support import eventually

pytestmark = pytest.mark.integration


async def test_the_disbursement_rebuild_refuses_while_its_lease_is_held_and_finishes_a_dead_ones_catch_up(
    mongo_db: AsyncDatabase,
) -> None:
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    generations = Generations(mongo_db, POINTERS)
    calendar = Calendars(recorder).current
    other = RebuildLease(mongo_db, POINTERS, ttl=1.0, holder="disbursement-A")
    await other.acquire()

    with pytest.raises(RebuildRunning, match="held by disbursement-A"):
        await disbursement_rebuild(mongo_db, recorder, calendar, generations, settle=0.0)
    assert not await generations.stored()  # nothing moved

    # Given it was killed after its flip (the mark stays, the lease lapses): a rerun finishes and clears it
    await other.mark_catch_up(0, [])
    await asyncio.sleep(1.1)
    await disbursement_rebuild(mongo_db, recorder, calendar, generations, settle=0.0)
    lease = await mongo_db[POINTERS].find_one({"_id": LEASE_ID}) or {}
    assert "catch_up" not in lease and lease.get("holder") is None
    assert {g.collection for g in (await generations.stored()).values()} == {
        "disbursement_views__g2", "arrears_views__g2", "disbursement_dashboard__g2"
    }  # fmt: skip


async def test_given_a_disbursement_rebuild_killed_after_its_flip_then_the_disbursement_service_finishes_it(
    mongo_db: AsyncDatabase, infra: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = MongoRecorder(mongo_db.client, mongo_db)
    earlier = {await opened(mongo_db, recorder, n) for n in (9101, 9102, 9103)}
    late: list[str] = []

    async def opened_meanwhile() -> None:
        late.append(await opened(mongo_db, recorder, 9104))

    # Given a rebuild killed after its flip, a disbursement opened between its replay and its flip
    calendar = Calendars(recorder).current
    dying = DiesWithItsLease(mongo_db, POINTERS, ttl=1.0, holder="killed")
    with pytest.raises(Killed):
        await disbursement_rebuild(
            mongo_db,
            recorder,
            calendar,
            DiesAfterItsFlip(mongo_db, opened_meanwhile),
            settle=0.0,
            lease=dying,
        )
    generations = Generations(mongo_db, POINTERS)
    flipped = (await generations.current(VIEWS)).collection
    assert flipped == "disbursement_views__g2" and await mongo_db[flipped].find_one({"_id": late[0]}) is None
    assert await finish_disbursements(mongo_db, recorder, calendar, generations) is None  # its lease lasts

    # And the service as deployed (no Kafka here), whose first completion fails (the database was away)
    real, calls = disbursement_bootstrap.finish_interrupted, []

    async def away_once(*args: Any) -> int | None:
        calls.append(args)
        if len(calls) == 1:
            raise ConnectionError("MongoDB away for a moment")
        return await real(*args)

    monkeypatch.setattr(disbursement_bootstrap, "broker_lifespan", without_kafka)
    monkeypatch.setattr(disbursement_bootstrap, "finish_interrupted", away_once)
    app = disbursement_bootstrap.build_app(
        DisbursementSettings(mongodb_uri=infra.mongo_uri, mongodb_database=mongo_db.name)
    )
    key = await ApiKeyStore(mongo_db).issue("finance", Role.ADMIN, "rebuild lease test")
    await asyncio.sleep(1.1)  # the dead rebuild's lease lapses

    async def listed(client: httpx.AsyncClient) -> set[str]:
        answer = await client.get("/api/v1/disbursements", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
        return {item["disbursement_id"] for item in answer.json()["items"]}

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        # When it starts, it tries at once: the failure leaves the list short and /healthz says why
        async def alarm() -> str | None:
            text: str | None = (await client.get("/healthz")).json().get("rebuild_catch_up")
            return text

        alarm_text = await eventually(alarm, 5, "the alarm of the failed completion on /healthz")
        assert "killed" in alarm_text and "stopped after its flip" in alarm_text and "中断" in alarm_text
        assert await listed(client) == earlier

        # Then its next look (every few seconds) applies what the catch-up had left, and the alarm goes
        async def finished() -> bool | None:
            return late[0] in await listed(client) or None

        await eventually(finished, 15, "the service to finish the interrupted catch-up")
        assert await listed(client) == earlier | set(late)

        async def alarm_gone() -> bool | None:
            return await alarm() is None or None

        # The list shows the event as soon as it is applied; the same look then clears the mark and the alarm
        await eventually(alarm_gone, 5, "the alarm to go once the catch-up is finished")
    assert "catch_up" not in (await mongo_db[POINTERS].find_one({"_id": LEASE_ID}) or {})
