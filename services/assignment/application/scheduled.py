"""Scheduled work of the assignment service: leaves start and end on their own days.

Data, not timers: each run reads every bureau's board and decides, per leave whose day came, the start
(hand-over to the deputy or the next eligible person) or the end (the person is eligible again and the
queue is served). The command id is derived from the bureau, the leave and the day, so a run repeated
after a restart, or the same run on two instances at once, records the events once: the second finds
the leave already started or ended, or its append collides on the command id.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial

from pydantic import BaseModel

from services.assignment.application.boards import Boards, Context
from services.assignment.domain.board import AssignmentBoard
from shared.auth.actors import service_actor
from shared.contracts.envelope import EventEnvelope
from shared.workdays.calendar import SHANGHAI

log = logging.getLogger(__name__)
ACTOR_ID = "assignment:scheduled_leave_check"


def leave_context(bureau: str, leave_id: str, now: datetime) -> Context:
    """Context of a leave's start or end on a day: the same on every instance and every retry."""
    command_id = f"advance_leave:{bureau}:{leave_id}:{now.astimezone(SHANGHAI).date().isoformat()}"
    return Context(
        bureau=bureau,
        actor=service_actor(ACTOR_ID, bureau),
        command_id=command_id,
        correlation_id=uuid.uuid5(uuid.NAMESPACE_URL, command_id),
    )


async def advance_leaves(boards: Boards, bureau: str, now: datetime) -> list[EventEnvelope]:
    """Start or end every leave of the bureau whose day came; return what was recorded."""
    board = await boards.current(bureau)
    recorded: list[EventEnvelope] = []
    for staff_id, leave_id in board.leaves_due(now):
        decision = partial(_advance, staff_id=staff_id, leave_id=leave_id, now=now)
        recorded += await boards.decide(leave_context(bureau, leave_id, now), decision)
    return recorded


def _advance(board: AssignmentBoard, *, staff_id: str, leave_id: str, now: datetime) -> list[BaseModel]:
    return board.advance_leave(staff_id, leave_id, now)


async def run_leave_checks(
    boards: Boards,
    bureaus: Callable[[], Awaitable[list[str]]],
    every_seconds: float,
    clock: Callable[[], datetime] = lambda: datetime.now(SHANGHAI),
) -> None:
    """Check every bureau's leaves now and then every `every_seconds`, until cancelled."""
    while True:
        try:
            for bureau in await bureaus():
                await advance_leaves(boards, bureau, clock())
        except asyncio.CancelledError:
            raise
        except Exception:
            # The next run catches up (the check is idempotent); a database outage must not end the loop.
            log.exception("leave check failed; retrying in %s s", every_seconds)
        await asyncio.sleep(every_seconds)
