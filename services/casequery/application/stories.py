"""Reading the case stories: the port the read use cases need, and its MongoDB adapter."""

from __future__ import annotations

from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.projections.generations import ReadModel, read_model
from services.casequery.projections.queue import entry_id, place
from services.casequery.projections.story import Story

QueuePlace = dict[str, Any]


def board_stream(bureau: str) -> str:
    """Return the id of a bureau's assignment board stream."""
    return f"board-{bureau}"


class Stories(Protocol):
    """Where the case stories and the places in the bureaus' queues are read from."""

    async def of_cases(self, bureau: str, case_ids: list[str]) -> dict[str, Story]:
        """Return the stories of these cases of the bureau, by case id (cases without one are left out)."""
        ...

    async def queue_places(self, bureau: str, enterprises: dict[str, str]) -> dict[str, QueuePlace]:
        """Return the place in the bureau's queue of those of these cases (case id: credit code) that wait."""
        ...


class MongoStories:
    """The stories, board states and queue entries the projection keeps in MongoDB (their current generations)."""

    def __init__(
        self,
        stories: AsyncCollection | ReadModel,
        boards: AsyncCollection | ReadModel,
        entries: AsyncCollection | ReadModel,
    ) -> None:
        self._stories, self._boards, self._entries = (
            read_model(stories),
            read_model(boards),
            read_model(entries),
        )

    async def of_cases(self, bureau: str, case_ids: list[str]) -> dict[str, Story]:
        """Return the stories of these cases of the bureau, by case id."""
        if not case_ids:
            return {}
        stories = await self._stories.collection()
        if len(case_ids) == 1:  # one read by _id is the cheap path on SecantusDB
            found = await stories.find_one({"_id": case_ids[0], "bureau": bureau})
            return {case_ids[0]: found} if found else {}
        cursor = stories.find({"_id": {"$in": case_ids}, "bureau": bureau})
        return {doc["_id"]: doc async for doc in cursor}

    async def queue_places(self, bureau: str, enterprises: dict[str, str]) -> dict[str, QueuePlace]:
        """Return the places of the waiting ones: their enterprises' entries, then where the board's queue stands.

        Two reads by _id however long the queue (see projections/queue.py). The entries are read first: the
        consumer writes the board last, so an entry and a board read a moment apart agree or show no place.
        """
        if not enterprises:
            return {}
        board_id = board_stream(bureau)
        ids = sorted({entry_id(board_id, code) for code in enterprises.values()})
        found = await self._entries.collection()
        cursor = found.find({"_id": {"$in": ids}, "bureau": bureau, "waiting": True})
        entries = {doc["credit_code"]: doc async for doc in cursor}
        if not entries:
            return {}
        boards = await self._boards.collection()
        board = await boards.find_one({"_id": board_id}, {"joined": 1, "head": 1, "holes": 1, "version": 1})
        places = {}
        for case_id, code in enterprises.items():
            entry = entries.get(code)
            if entry is not None and case_id in entry["case_ids"] and (at := place(entry, board)):
                places[case_id] = at
        return places
