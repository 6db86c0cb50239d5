"""Supervision orders (督办) on the case: read from each task's supervision stream in the event store.

The notification service issues an order on `supervision-<case>-<task>` when a task stays overdue, and settles
it when the task ends; the case shows them and its history tells them, in the store's order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.casequery.application.history import Entry, case_entry
from shared.eventstore.recorder import EventRecorder

LABELS = {
    "SupervisionOrderIssued": "督办：下达督办单 (supervision order issued)",
    "SupervisionOrderSettled": "督办：督办事项办结 (supervision order settled)",
}


def _moment(value: str | datetime) -> datetime:
    # Payload times arrive as JSON strings; as datetimes they are answered in +08:00 like every other time.
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


async def supervision_of(
    case_id: str, task_ids: list[str], *, recorder: EventRecorder
) -> tuple[list[dict[str, Any]], list[Entry]]:
    """Return the case's orders (issue and outcome folded) and their history entries, in order."""
    orders: list[dict[str, Any]] = []
    entries: list[Entry] = []
    for task_id in task_ids:
        events = await recorder.read_stream(f"supervision-{case_id}-{task_id}")
        if (
            not events
            or events[0].event_type != "SupervisionOrderIssued"
            or events[0].data.get("case_id") != case_id
        ):
            continue
        issued = events[0].data
        order = {
            **issued,
            "task_due_at": _moment(issued["task_due_at"]),
            "order_due_at": _moment(issued["order_due_at"]),
            "issued_at": events[0].occurred_at,
            "outcome": None,
            "settled_at": None,
        }
        for event in events[1:]:
            if event.event_type == "SupervisionOrderSettled":
                order.update(outcome=event.data["outcome"], settled_at=_moment(event.data["settled_at"]))
        orders.append(order)
        entries += [
            {**case_entry(e), "source": "supervision", "summary": LABELS.get(e.event_type, e.event_type)}
            for e in events
        ]
    entries.sort(key=lambda e: (e["position"] is None, e["position"] or 0, e["recorded_at"]))
    return orders, entries
