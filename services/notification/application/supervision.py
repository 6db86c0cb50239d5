"""Supervision orders (督办): issued when a task stays overdue past the bureau's limit, settled when it ends.

An order is an event on its own stream (`supervision-{case}-{task}`), written with expected version 0 (issue)
and 1 (settle), so a fired-again step or a replayed closing records it once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.notification.application.context import Notifying
from shared.auth.actors import service_actor
from shared.contracts.envelope import EventEnvelope
from shared.contracts.notification import (
    SUPERVISION_STREAM_TYPE,
    SupervisionOrderIssued,
    SupervisionOrderSettled,
)
from shared.contracts.text import read_stored
from shared.eventstore.recorder import ConcurrencyError, NewEvent, Recording

POLICY = "notification:supervision"


def supervision_stream(case_id: str, task_id: str) -> str:
    """Return the stream id of a task's supervision order."""
    return f"supervision-{case_id}-{task_id}"


def _recording(
    bureau: str, stream_id: str, expected: int, command_id: str, causation: uuid.UUID | None
) -> Recording:
    return Recording(
        stream_id=stream_id,
        stream_type=SUPERVISION_STREAM_TYPE,
        expected_version=expected,
        bureau=bureau,
        actor=service_actor(POLICY, bureau),
        command_id=command_id,
        correlation_id=uuid.uuid4(),
        causation_id=causation,
    )


async def issue_order(
    n: Notifying, doc: dict[str, Any], order: SupervisionOrderIssued
) -> SupervisionOrderIssued:
    """Record the order once; return the order in force (an earlier one when it was issued before)."""
    stream = supervision_stream(doc["case_id"], doc["task_id"])
    recording = _recording(doc["bureau"], stream, 0, f"{POLICY}:issue:{stream}", None)
    try:
        await n.recorder.append(
            recording, [NewEvent("SupervisionOrderIssued", 1, order.model_dump(mode="json"))]
        )
        return order
    except ConcurrencyError:
        first = (await n.recorder.read_stream(stream))[0]
        return read_stored(SupervisionOrderIssued, first.data)


async def settle_supervision(
    n: Notifying, before: dict[str, Any], outcome: str, envelope: EventEnvelope
) -> None:
    """Settle the task's order, if one was issued: closed in time, closed late, or cancelled."""
    stream = supervision_stream(before["case_id"], before["task_id"])
    events = await n.recorder.read_stream(stream)
    if len(events) != 1:
        return  # no order, or settled already
    order = read_stored(SupervisionOrderIssued, events[0].data)
    at = envelope.occurred_at
    if outcome == "closed":
        outcome = "closed_in_time" if at <= order.order_due_at else "closed_late"
    settled = SupervisionOrderSettled(
        order_id=order.order_id, case_id=order.case_id, task_id=order.task_id, outcome=outcome, settled_at=at
    )
    recording = _recording(before["bureau"], stream, 1, f"{POLICY}:settle:{stream}", envelope.event_id)
    try:
        await n.recorder.append(
            recording, [NewEvent("SupervisionOrderSettled", 1, settled.model_dump(mode="json"))]
        )
    except ConcurrencyError:
        pass  # settled by an earlier delivery of the same closing


def new_order(
    doc: dict[str, Any],
    issuer: tuple[str, str],
    to: list[str],
    overdue: int,
    due: datetime,
    rules_version: int,
) -> SupervisionOrderIssued:
    """Return the order for a task's deadline document."""
    return SupervisionOrderIssued(
        order_id=f"DB-{uuid.uuid5(uuid.NAMESPACE_URL, doc['_id']).hex[:10].upper()}",
        case_id=doc["case_id"],
        task_id=doc["task_id"],
        section=doc.get("section", ""),
        issued_by=issuer[0],
        issued_by_name=issuer[1],
        issued_to=to,
        overdue_workdays=max(overdue, 1),
        task_due_at=doc["due_at"],
        order_due_at=due,
        rules_version=rules_version,
    )
