"""The case stories are rebuildable: a rebuild from the event store gives the stories the live consumer built."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.casequery.projections.story_store import CASE_STORY, CASE_STORY_BOARDS, CASE_STORY_QUEUE
from services.casequery.rebuild import rebuild
from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.devstack.stack import Stack
from shared.eventstore.mongo import MongoRecorder
from tests.support import case_body, current_collection, eventually

pytestmark = pytest.mark.integration


async def stories_of(db: AsyncDatabase, bureau: str) -> tuple[list[Any], Any, list[Any]]:
    found = (await current_collection(db, CASE_STORY)).find({"bureau": bureau}).sort("_id", 1)
    stories = [d async for d in found]
    boards = await current_collection(db, CASE_STORY_BOARDS)
    waiting = (await current_collection(db, CASE_STORY_QUEUE)).find({"bureau": bureau}).sort("_id", 1)
    return stories, await boards.find_one({"_id": f"board-{bureau}"}), [d async for d in waiting]


async def test_given_a_bureau_with_a_served_and_a_waiting_case_when_rebuilt_then_its_stories_are_unchanged(
    stack: Stack, stack_db: AsyncDatabase
) -> None:
    # Given a bureau whose one concierge serves one enterprise while another waits
    bureau = f"b{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau, Role.ADMIN, "story rebuild test")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        staff = {"name": "王科长", "post": "section_chief", "section": "预算科"}
        assert (await client.post("/api/v1/staff", json=staff)).status_code == 201
        for n in (931, 932):
            assert (await client.post("/api/v1/cases", json=case_body(n))).status_code == 201

    async def both_told() -> tuple[list[Any], Any, list[Any]] | None:
        stories, board, waiting = await stories_of(stack_db, bureau)
        kinds = sorted(s["assignment"]["kind"] for s in stories)
        if kinds != ["assigned", "queued"] or not board or not waiting:
            return None
        # The board is written after the stories and entries of its batch: wait for it too.
        settled = all(d["board_version"] <= board["version"] for d in [*stories, *waiting])
        return (stories, board, waiting) if settled else None

    live = await eventually(both_told, 60, "both cases' stories")

    # When the case query projections are rebuilt from the event store
    await rebuild(stack_db, MongoRecorder(stack_db.client, stack_db), progress=False)

    # Then the bureau's stories, board state and queue are the ones the live consumer built
    assert await stories_of(stack_db, bureau) == live
