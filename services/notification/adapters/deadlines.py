"""Deadlines as data: one document per coordination task, disbursement or arrears, with its ladder's steps
and the next moment due (`kind`: absent for tasks, `disbursement`, `arrears`).

The scheduler asks for `open` deadlines whose `next_at` has come (an index, not a scan); a step is marked
fired only after its notifications are recorded, so a crash in between fires it again with the same
delivery ids (recorded once), and a step that fell due while the service was down fires once on start.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notification.domain.deadlines import Timer

DEADLINES = "notification_deadlines"
UNCLAIMED = datetime(1970, 1, 1, tzinfo=UTC)
NEVER = datetime(9999, 1, 1, tzinfo=UTC)


def _next_at(steps: list[dict[str, Any]]) -> datetime:
    pending = [s["fire_at"] for s in steps if s.get("fired_at") is None]
    return min(pending) if pending else NEVER


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # a client without tz_aware reads naive UTC


def _moment(value: datetime) -> datetime:
    # As MongoDB keeps it (milliseconds, UTC), so a stored stamp equals the moment it was taken from.
    at = _as_utc(value).astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _fired_for(step: dict[str, Any]) -> set[tuple[str, Any]]:
    """Return what a step stands for once fired: its day (every step) and the due moment it was planned for
    (steps stamped with it; those stored before the stamp have only their day)."""
    keys: set[tuple[str, Any]] = {(step["step"], _as_utc(step["fire_at"]).date())}
    if step.get("due") is not None:
        keys.add((step["step"], _moment(step["due"])))
    return keys


def _merge(
    old_steps: list[dict[str, Any]], timers: list[Timer], due: datetime | None
) -> list[dict[str, Any]]:
    # Steps that fired stay as history. A step that fired for this due moment is not planned again, whatever
    # day a replan (a calendar, a rules change) would put it on: it told it once. A moved due date plans its
    # steps anew, except on a day one already fired (same cause, so nothing would be recorded anyway).
    fired = [s for s in old_steps if s.get("fired_at") is not None]
    done = set().union(*(_fired_for(s) for s in fired))
    stamp = _moment(due) if due is not None else None
    fresh = [
        {
            "step": t.step.value,
            "fire_at": t.fire_at,
            "fired_at": None,
            "provisional": t.provisional,
            "due": stamp,
        }
        for t in timers
        if (t.step.value, t.fire_at.astimezone(UTC).date()) not in done and (t.step.value, stamp) not in done
    ]
    return fired + fresh


REPLAN_ATTEMPTS = 5  # a replan that met a firing round reads the ladder again; more would mean a hot loop


class Deadlines:
    """Task deadlines in MongoDB."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._c = db[DEADLINES]

    async def ensure_indexes(self) -> None:
        """The due-date index the scheduler reads."""
        await self._c.create_index([("open", 1), ("next_at", 1)])
        await self._c.create_index([("case_id", 1)])
        # Sparse: only the deadlines a round claimed carry a claim, so reading them back is an equality lookup.
        await self._c.create_index([("claim", 1)], sparse=True)

    async def plan(self, key: dict[str, Any], due_at: datetime, version: int, timers: list[Timer]) -> None:
        """Set a task's due date and the ladder for it; steps already fired for that due date stay, once."""
        await self.plan_for(f"{key['case_id']}|{key['task_id']}", {**key, "due_at": due_at}, version, timers)

    async def plan_for(self, doc_id: str, fields: dict[str, Any], version: int, timers: list[Timer]) -> None:
        """Set a deadline's facts and ladder as of a stream version; an older (replayed) version changes nothing."""
        current = await self._c.find_one({"_id": doc_id})
        if current is not None and current.get("v", 0) >= version:
            return  # a replayed older event
        steps = _merge(current.get("steps", []) if current else [], timers, fields.get("due_at"))
        changes = {
            **fields,
            "v": version,
            "open": True,
            "steps": steps,
            "next_at": _next_at(steps),
            "rev": uuid.uuid4().hex,  # any change of the ladder: a firing round started before it notices
        }
        try:
            await self._c.update_one(
                {"_id": doc_id, "v": {"$lt": version}},
                {"$set": changes, "$setOnInsert": {"claimed_until": UNCLAIMED}},
                upsert=True,
            )
        except DuplicateKeyError:
            pass

    async def replan(
        self, doc: dict[str, Any], timers: list[Timer], changes: dict[str, Any] | None = None
    ) -> None:
        """Move a deadline's pending steps (the calendar or a setting changed); unchanged when an event moved it
        meanwhile. A step marked fired meanwhile (the scheduler runs alongside) is read again, never lost."""
        due = (changes or {}).get("due_at", doc.get("due_at"))
        for _ in range(REPLAN_ATTEMPTS):
            steps = _merge(doc.get("steps", []), timers, due)
            result = await self._c.update_one(
                {"_id": doc["_id"], "v": doc["v"], "open": True, "rev": doc.get("rev")},
                {
                    "$set": {
                        **(changes or {}),
                        "steps": steps,
                        "next_at": _next_at(steps),
                        "rev": uuid.uuid4().hex,
                    }
                },
            )
            fresh = None if result.matched_count else await self._c.find_one({"_id": doc["_id"]})
            if fresh is None or fresh.get("v") != doc["v"] or not fresh.get("open"):
                return  # written, or moved on by an event (its own planning holds), or closed
            doc = fresh

    async def get(self, doc_id: str) -> dict[str, Any] | None:
        """Return a deadline by its id."""
        return await self._c.find_one({"_id": doc_id})

    async def task(self, case_id: str, task_id: str) -> dict[str, Any] | None:
        """Return a task's deadline as known (section, due date, steps)."""
        return await self._c.find_one({"_id": f"{case_id}|{task_id}"})

    async def settle(self, case_id: str, task_id: str, version: int, outcome: str) -> dict[str, Any] | None:
        """Close a task's deadline (closed or cancelled); return it as it was, or None when unknown/replayed."""
        return await self.close(f"{case_id}|{task_id}", version, outcome)

    async def close(self, doc_id: str, version: int, outcome: str) -> dict[str, Any] | None:
        """Close a deadline as of a stream version; return it as it was, or None when unknown/replayed."""
        return await self._c.find_one_and_update(
            {"_id": doc_id, "v": {"$lt": version}},
            {
                "$set": {
                    "open": False,
                    "outcome": outcome,
                    "v": version,
                    "next_at": NEVER,
                    "rev": uuid.uuid4().hex,
                }
            },
        )

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[dict[str, Any]]:
        """Claim open deadlines with a step due by now."""
        # Only the indexed fields in the query (SecantusDB scans when a third one is added); the claim is
        # checked here and again by the update, so two instances never claim the same deadline.
        due = {"open": True, "next_at": {"$lte": now}}
        cursor = self._c.find(due, {"_id": 1, "claimed_until": 1}).sort("next_at", 1).limit(limit * 4)
        ids = [d["_id"] async for d in cursor if _as_utc(d["claimed_until"]) <= now][:limit]
        if not ids:
            return []
        # One point update per id: an $in on _id, or the indexed fields beside it, make SecantusDB scan every
        # deadline; the filter still refuses what another instance took or what closed since.
        claim = uuid.uuid4().hex
        take = {"$set": {"claim": claim, "claimed_until": now + lease}}
        await self._c.bulk_write(
            [UpdateOne({"_id": i, "open": True, "claimed_until": {"$lte": now}}, take) for i in ids],
            ordered=False,
        )
        return [d async for d in self._c.find({"claim": claim})]

    async def mark_fired(self, doc: dict[str, Any], fired: list[str], now: datetime) -> list[dict[str, Any]]:
        """Mark steps fired (after their notifications are recorded) and release the claim; return the steps
        told that the ladder no longer has (it ended, or moved them, while they fired)."""
        steps = [
            {**s, "fired_at": now} if s["step"] in fired and s.get("fired_at") is None else s
            for s in doc["steps"]
        ]
        release = {"claim": None, "claimed_until": UNCLAIMED}
        result = await self._c.update_one(
            {"_id": doc["_id"], "claim": doc.get("claim"), "rev": doc.get("rev")},
            # A new rev: a replan that read the ladder before these steps fired writes again from this one.
            {"$set": {"steps": steps, "next_at": _next_at(steps), "rev": uuid.uuid4().hex, **release}},
        )
        if result.matched_count:
            return []
        # Re-planned while its steps fired (a new stage, a moved due date, a calendar): keep the new ladder and
        # mark fired the steps of it that fired on the same day, so they are not told twice.
        current = await self._c.find_one({"_id": doc["_id"]})
        told_steps = [s for s in steps if s["step"] in fired and s["fired_at"] == now]
        if current is None:
            return told_steps
        told = set().union(*(_fired_for(s) for s in told_steps))
        merged = [
            {**s, "fired_at": now} if s.get("fired_at") is None and _fired_for(s) & told else s
            for s in current.get("steps", [])
        ]
        await self._c.update_one(
            {"_id": doc["_id"], "rev": current.get("rev")},
            {"$set": {"steps": merged, "next_at": _next_at(merged) if current["open"] else NEVER, **release}},
        )
        if not current["open"]:
            return told_steps  # ended while they fired: nothing they told is true any more
        planned = set().union(*(_fired_for(s) for s in current.get("steps", [])))
        return [s for s in told_steps if not _fired_for(s) & planned]

    async def open_deadlines(self) -> list[dict[str, Any]]:
        """Return every open deadline (a calendar correction re-plans them)."""
        return [d async for d in self._c.find({"open": True})]

    async def open_in_bureau(self, bureau: str) -> list[dict[str, Any]]:
        """Return a bureau's open deadlines of every kind (its rules changed: they re-plan them; rare)."""
        return [d async for d in self._c.find({"open": True, "bureau": bureau})]

    async def open_money(self, kind: str, bureau: str) -> list[dict[str, Any]]:
        """Return a bureau's open deadlines of one kind (a changed setting re-plans them; rare)."""
        return [d async for d in self._c.find({"open": True, "kind": kind, "bureau": bureau})]

    async def for_case(self, case_id: str) -> list[dict[str, Any]]:
        """Return a case's deadlines."""
        return [d async for d in self._c.find({"case_id": case_id}).sort("_id", 1)]

    async def pending(self) -> int:
        """Return how many deadlines are open (for /healthz)."""
        return await self._c.count_documents({"open": True})
