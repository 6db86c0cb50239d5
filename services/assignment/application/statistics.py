"""Figures leadership reports: enterprises assigned, cases by status and category, settlements, ratings."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pymongo.asynchronous.collection import AsyncCollection

from services.assignment.domain.board import AssignmentBoard


class BureauStatistics(BaseModel):
    """One bureau's figures, now."""

    bureau: str
    enterprises_assigned: int
    enterprises_in_resolution: int
    enterprises_with_settlement_intent: int
    cases_total: int
    cases_by_status: dict[str, int]
    cases_by_category: dict[str, int]
    cases_resolved: int
    average_rating: float | None
    ratings: int
    open_tasks: int
    overdue_tasks: int
    waiting_enterprises: int


async def bureau_statistics(
    board: AssignmentBoard, views: AsyncCollection, now: datetime
) -> BureauStatistics:
    """Compute the figures from the board and the case projection (one pass over the bureau's cases)."""
    fields = {
        "status": 1,
        "category": 1,
        "enterprise": 1,
        "resolution": 1,
        "rating": 1,
        "tasks": 1,
        "steps": 1,
    }
    by_status: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    in_resolution: set[str] = set()
    settled: set[str] = set()
    ratings: list[int] = []
    resolved = open_tasks = overdue = 0
    async for view in views.find({"bureau": board.bureau}, fields):
        by_status[view["status"]] += 1
        by_category[view["category"]] += 1
        code = view["enterprise"]["credit_code"]
        steps: dict[str, Any] = view.get("steps") or {}
        if steps.get("clarify"):
            in_resolution.add(code)  # 进入解决程序: the problem is clarified and being worked on
        if view.get("resolution"):
            resolved += 1
            if view["resolution"]["settlement_intent"]:
                settled.add(code)
        if view.get("rating"):
            ratings.append(view["rating"]["rating"])
        for task in view.get("tasks", []):
            if task["state"] == "open":
                open_tasks += 1
                overdue += int(task["due_at"] < now)
    return BureauStatistics(
        bureau=board.bureau,
        enterprises_assigned=len(board.assigned_enterprises),
        enterprises_in_resolution=len(in_resolution),
        enterprises_with_settlement_intent=len(settled),
        cases_total=sum(by_status.values()),
        cases_by_status=dict(sorted(by_status.items())),
        cases_by_category=dict(sorted(by_category.items())),
        cases_resolved=resolved,
        average_rating=round(sum(ratings) / len(ratings), 2) if ratings else None,
        ratings=len(ratings),
        open_tasks=open_tasks,
        overdue_tasks=overdue,
        waiting_enterprises=len(board.queue()),
    )
