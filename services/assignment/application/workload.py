"""Open and overdue coordination tasks per concierge, from assignment's own case summaries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any


async def workload_by_concierge(
    summaries: AsyncIterator[dict[str, Any]], now: datetime
) -> dict[str, dict[str, int]]:
    """Return {staff_id: {"open_tasks": n, "overdue_tasks": m}} over a bureau's case summaries."""
    result: dict[str, dict[str, int]] = {}
    async for summary in summaries:
        if not summary.get("concierge") or not summary.get("open_tasks"):
            continue
        load = result.setdefault(summary["concierge"]["staff_id"], {"open_tasks": 0, "overdue_tasks": 0})
        for task in summary.get("tasks", []):
            if task["state"] == "open":
                load["open_tasks"] += 1
                load["overdue_tasks"] += int(task["due_at"] < now)
    return result
