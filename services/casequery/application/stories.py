"""Reading the case stories: the port the read use cases need, and its MongoDB adapter."""

from __future__ import annotations

from typing import Protocol

from pymongo.asynchronous.collection import AsyncCollection

from services.casequery.projections.generations import ReadModel, read_model
from services.casequery.projections.story import Board, Story


def board_stream(bureau: str) -> str:
    """Return the id of a bureau's assignment board stream."""
    return f"board-{bureau}"


class Stories(Protocol):
    """Where the case stories and the boards' queues are read from."""

    async def of_cases(self, bureau: str, case_ids: list[str]) -> dict[str, Story]:
        """Return the stories of these cases of the bureau, by case id (cases without one are left out)."""
        ...

    async def board(self, bureau: str) -> Board | None:
        """Return the bureau's board state (its queue), or None before its first board event."""
        ...


class MongoStories:
    """The stories and board states the projection keeps in MongoDB (their current generations)."""

    def __init__(self, stories: AsyncCollection | ReadModel, boards: AsyncCollection | ReadModel) -> None:
        self._stories, self._boards = read_model(stories), read_model(boards)

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

    async def board(self, bureau: str) -> Board | None:
        """Return the bureau's board state."""
        # Only the queue: the roster and approvals the fold keeps are for explaining decisions.
        boards = await self._boards.collection()
        return await boards.find_one({"_id": board_stream(bureau)}, {"queue": 1, "version": 1})
