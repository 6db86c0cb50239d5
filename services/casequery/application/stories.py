"""Reading the case stories: the port the read use cases need, and its MongoDB adapter."""

from __future__ import annotations

from typing import Protocol

from pymongo.asynchronous.collection import AsyncCollection

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
    """The stories and board states the projection keeps in MongoDB."""

    def __init__(self, stories: AsyncCollection, boards: AsyncCollection) -> None:
        self._stories, self._boards = stories, boards

    async def of_cases(self, bureau: str, case_ids: list[str]) -> dict[str, Story]:
        """Return the stories of these cases of the bureau, by case id."""
        if not case_ids:
            return {}
        if len(case_ids) == 1:  # one read by _id is the cheap path on SecantusDB
            found = await self._stories.find_one({"_id": case_ids[0], "bureau": bureau})
            return {case_ids[0]: found} if found else {}
        cursor = self._stories.find({"_id": {"$in": case_ids}, "bureau": bureau})
        return {doc["_id"]: doc async for doc in cursor}

    async def board(self, bureau: str) -> Board | None:
        """Return the bureau's board state."""
        # Only the queue: the roster and approvals the fold keeps are for explaining decisions.
        return await self._boards.find_one({"_id": board_stream(bureau)}, {"queue": 1, "version": 1})
