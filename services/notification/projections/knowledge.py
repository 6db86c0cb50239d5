"""What the notification service knows, folded from events: the roster's people and each case's facts.

Its own collections (services never read each other's): rebuildable from the event store. Every write is
guarded by the stream version, so a replayed older event never moves a document backwards.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notification.application.intents import staff_subject
from services.notification.application.policies import CaseFacts
from shared.contracts.assignment import (
    LEADERSHIP_POSTS,
    Post,
    StaffDeparted,
    StaffMemberAdded,
    StaffMemberChanged,
)
from shared.contracts.casework import ConciergeAssignedToCase, ConciergeWithdrawnFromCase, RatingCollected
from shared.contracts.envelope import EventEnvelope
from shared.contracts.events import CaseOpened

PEOPLE = "notification_people"
CASES = "notification_cases"
TITLES_KEPT = 10_000  # about 3 MB: the cases opened in the last hours of a busy zone


class CaseTitles:
    """The titles of the cases this process saw opened, the most recent kept: a title never changes."""

    def __init__(self, keep: int = TITLES_KEPT) -> None:
        self._keep = keep
        self._titles: OrderedDict[str, str] = OrderedDict()

    def remember(self, case_id: str, title: str) -> None:
        """Keep a case's title, forgetting the oldest beyond the limit."""
        self._titles[case_id] = title
        self._titles.move_to_end(case_id)
        while len(self._titles) > self._keep:
            self._titles.popitem(last=False)

    def get(self, case_id: str) -> str | None:
        """Return a case's title if this process knows it."""
        return self._titles.get(case_id)


class Knowledge:
    """People and case facts in MongoDB."""

    def __init__(
        self, db: AsyncDatabase, *, remember_leaders: bool = False, titles: CaseTitles | None = None
    ) -> None:
        self._db = db
        self._people, self._cases = db[PEOPLE], db[CASES]
        # Why: an assignment's notice names the case's problem, folded from CaseOpened a moment before.
        self._titles = titles if titles is not None else CaseTitles()
        # Within one batch of events: each bureau's leadership, read once and forgotten when a roster event of
        # the bureau is folded. Never longer: another instance may fold roster events meanwhile.
        self._leaders: dict[str, list[tuple[str, str]]] | None = {} if remember_leaders else None

    def for_one_batch(self) -> Knowledge:
        """Return the same knowledge remembering each bureau's leadership for the length of one batch."""
        return Knowledge(self._db, remember_leaders=True, titles=self._titles)

    async def ensure_indexes(self) -> None:
        """Index leadership and section look-ups."""
        await self._people.create_index([("bureau", 1), ("post", 1)])
        await self._people.create_index([("bureau", 1), ("section", 1)])

    async def _guarded(self, collection: Any, key: str, version: int, changes: dict[str, Any]) -> None:
        try:
            await collection.update_one(
                {"_id": key, "v": {"$lt": version}}, {"$set": {**changes, "v": version}}, upsert=True
            )
        except DuplicateKeyError:
            pass  # the document is already past this event: a replay

    async def fold(self, payload: Any, env: EventEnvelope) -> None:
        """Fold one event into what is known (events of other kinds are ignored)."""
        if self._leaders is not None and isinstance(
            payload, StaffMemberAdded | StaffMemberChanged | StaffDeparted
        ):
            self._leaders.pop(env.bureau, None)
        if isinstance(payload, StaffMemberAdded | StaffMemberChanged):
            person = {
                "bureau": env.bureau,
                "staff_id": payload.staff_id,
                "post": payload.post.value,
                "section": payload.section,
                "departed": False,
            }
            if isinstance(payload, StaffMemberAdded):
                person["name"] = payload.name
            await self._guarded(
                self._people, staff_subject(env.bureau, payload.staff_id), env.version, person
            )
        elif isinstance(payload, StaffDeparted):
            await self._guarded(
                self._people, staff_subject(env.bureau, payload.staff_id), env.version, {"departed": True}
            )
        elif isinstance(payload, CaseOpened):
            facts = {
                "bureau": env.bureau,
                "enterprise_name": payload.enterprise.name,
                "credit_code": payload.enterprise.credit_code,
                "title": payload.title,
            }
            await self._guarded(self._cases, env.stream_id, env.version, facts)
            self._titles.remember(env.stream_id, payload.title)
        elif isinstance(payload, ConciergeAssignedToCase):
            changes = {
                "concierge_id": payload.staff_id,
                "concierge_name": payload.staff_name,
                "withdrawn_from": None,
            }
            await self._guarded(self._cases, env.stream_id, env.version, changes)
        elif isinstance(payload, RatingCollected):
            rated = {"last_rating": payload.rating, "last_comment": payload.comment}
            await self._guarded(self._cases, env.stream_id, env.version, rated)
        elif isinstance(payload, ConciergeWithdrawnFromCase):
            withdrawn = {"concierge_id": None, "concierge_name": None, "withdrawn_from": payload.staff_id}
            await self._guarded(self._cases, env.stream_id, env.version, withdrawn)

    async def case(self, case_id: str) -> CaseFacts | None:
        """Return a case's facts, or None before its CaseOpened was seen."""
        doc = await self._cases.find_one({"_id": case_id})
        if doc is None or "credit_code" not in doc:
            return None
        return CaseFacts(
            case_id=case_id,
            bureau=doc["bureau"],
            enterprise_name=doc["enterprise_name"],
            credit_code=doc["credit_code"],
            title=doc.get("title", ""),
            concierge_id=doc.get("concierge_id"),
            concierge_name=doc.get("concierge_name"),
            last_rating=doc.get("last_rating"),
            last_comment=doc.get("last_comment", ""),
            withdrawn_from=doc.get("withdrawn_from"),
        )

    async def title(self, case_id: str) -> str:
        """Return a case's title (remembered from its CaseOpened, else read), or "" before it was seen."""
        known = self._titles.get(case_id)
        if known is not None:
            return known
        doc = await self._cases.find_one({"_id": case_id}, {"title": 1})
        if doc is None or "title" not in doc:
            return ""
        self._titles.remember(case_id, doc["title"])
        return str(doc["title"])

    async def leaders(self, bureau: str) -> list[tuple[str, str]]:
        """Return (staff id, name) of the bureau's leadership (局长, 党支部书记) still on the roster."""
        if self._leaders is not None and bureau in self._leaders:
            return list(self._leaders[bureau])
        query = {"bureau": bureau, "post": {"$in": [p.value for p in LEADERSHIP_POSTS]}, "departed": False}
        leaders = [
            (d["staff_id"], d.get("name", d["staff_id"]))
            async for d in self._people.find(query).sort("_id", 1)
        ]
        if self._leaders is not None:
            self._leaders[bureau] = leaders
        return list(leaders)

    async def section_chiefs(self, bureau: str, section: str) -> list[tuple[str, str]]:
        """Return (staff id, name) of the chiefs of a section."""
        query = {"bureau": bureau, "section": section, "post": Post.SECTION_CHIEF.value, "departed": False}
        return [
            (d["staff_id"], d.get("name", d["staff_id"]))
            async for d in self._people.find(query).sort("_id", 1)
        ]

    async def person(self, bureau: str, staff_id: str) -> dict[str, Any] | None:
        """Return a roster person as known."""
        return await self._people.find_one({"_id": staff_subject(bureau, staff_id)})
