"""Open and overdue coordination tasks per concierge, read from the case projection."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection


async def workload_by_concierge(
    views: AsyncCollection, bureau: str, now: datetime
) -> dict[str, dict[str, int]]:
    """Return {staff_id: {"open_tasks": n, "overdue_tasks": m}} for the bureau's unresolved cases."""
    result: dict[str, dict[str, int]] = {}
    cursor = views.find(
        {"bureau": bureau, "concierge": {"$ne": None}, "open_tasks": {"$gt": 0}}, {"concierge": 1, "tasks": 1}
    )
    async for view in cursor:
        load = result.setdefault(view["concierge"]["staff_id"], {"open_tasks": 0, "overdue_tasks": 0})
        for task in view.get("tasks", []):
            if task["state"] == "open":
                load["open_tasks"] += 1
                load["overdue_tasks"] += int(task["due_at"] < now)
    return result
