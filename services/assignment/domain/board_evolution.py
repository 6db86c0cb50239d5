"""How the board changes by each assignment event (roster events: staffing.apply_roster).

Folds only: no decision is taken here. Kept apart from board.py so each file holds one responsibility;
the handlers reach the board's private indexes (`_case_file`, `_waiting`) as the board's own code would.
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatch
from typing import TYPE_CHECKING

from pydantic import BaseModel

from services.assignment.domain.roster import EnterpriseFile
from services.assignment.domain.staffing import apply_roster
from shared.contracts.assignment import (
    CaseJoinedEnterprise,
    CaseLeftEnterprise,
    CaseLeftQueue,
    ConciergeAssigned,
    ConciergeCapacitySet,
    ConciergeReassigned,
    ConciergeReleased,
    EnterpriseQueued,
    FallbackApproved,
    NoticePublished,
)
from shared.contracts.cases import Category

if TYPE_CHECKING:
    from services.assignment.domain.board import AssignmentBoard


# Handlers are registered by explicit class: the board type is only imported for type checking.
@singledispatch
def evolve(event: BaseModel, board: AssignmentBoard, at: datetime) -> None:
    """Change the board by one event; roster events change its roster, others leave it alone."""
    apply_roster(event, board.staff)


@evolve.register(ConciergeAssigned)
def _(e: ConciergeAssigned, board: AssignmentBoard, at: datetime) -> None:
    code = e.enterprise.credit_code
    file = board.files.get(code) or EnterpriseFile(e.enterprise, e.category, [])
    file.staff_id, file.assigned_at = e.staff_id, at
    file.open_cases = list(dict.fromkeys([*file.open_cases, *e.case_ids]))
    board.files[code] = file
    person = board.staff[e.staff_id]
    person.serving.add(code)
    person.served.add(code)
    person.experience[e.category.value] += 1
    board._case_file.update({c: code for c in e.case_ids})
    board._waiting.pop(code, None)
    board.assigned_enterprises.add(code)
    board.approvals.pop(code, None)


@evolve.register(CaseJoinedEnterprise)
def _(e: CaseJoinedEnterprise, board: AssignmentBoard, at: datetime) -> None:
    code = e.enterprise.credit_code
    file = board.files.get(code)
    if file is None:  # a reopened case of an enterprise with nothing else open
        category = e.category or Category.FISCAL_POLICY  # older events did not say
        file = board.files[code] = EnterpriseFile(e.enterprise, category, [], e.staff_id, assigned_at=at)
        board.staff[e.staff_id].serving.add(code)
    file.open_cases.append(e.case_id)
    board._case_file[e.case_id] = code


@evolve.register(EnterpriseQueued)
def _(e: EnterpriseQueued, board: AssignmentBoard, at: datetime) -> None:
    code = e.enterprise.credit_code
    file = board.files.get(code)
    board._case_file[e.case_id] = code
    if file is None:
        board.files[code] = EnterpriseFile(e.enterprise, e.category, [e.case_id], None, at)
        board._waiting[code] = None
        return
    if file.staff_id is not None:  # its concierge was taken away with no replacement
        board.staff[file.staff_id].serving.discard(code)
        file.staff_id, file.queued_at = None, at
        board._waiting[code] = None
    if e.case_id not in file.open_cases:
        file.open_cases.append(e.case_id)


@evolve.register(CaseLeftEnterprise)
def _(e: CaseLeftEnterprise, board: AssignmentBoard, at: datetime) -> None:
    file = board.files[e.enterprise.credit_code]
    file.open_cases.remove(e.case_id)
    board._case_file.pop(e.case_id, None)


@evolve.register(CaseLeftQueue)
def _(e: CaseLeftQueue, board: AssignmentBoard, at: datetime) -> None:
    code = e.enterprise.credit_code
    file = board.files[code]
    file.open_cases.remove(e.case_id)
    board._case_file.pop(e.case_id, None)
    if e.enterprise_left:
        del board.files[code]
        board._waiting.pop(code, None)
        board.approvals.pop(code, None)


@evolve.register(ConciergeReleased)
def _(e: ConciergeReleased, board: AssignmentBoard, at: datetime) -> None:
    code = e.enterprise.credit_code
    for case_id in board.files.pop(code).open_cases:
        board._case_file.pop(case_id, None)
    person = board.staff[e.staff_id]
    person.serving.discard(code)
    if not person.serving:
        person.idle_since = at


@evolve.register(ConciergeCapacitySet)
def _(e: ConciergeCapacitySet, board: AssignmentBoard, at: datetime) -> None:
    board.capacity, board.capacity_set = e.enterprises_per_concierge, True


@evolve.register(NoticePublished)
def _(e: NoticePublished, board: AssignmentBoard, at: datetime) -> None:
    board.notices[e.notice_id] = e


@evolve.register(FallbackApproved)
def _(e: FallbackApproved, board: AssignmentBoard, at: datetime) -> None:
    board.approvals[e.credit_code] = (e.approval_id, e.staff_id)


@evolve.register(ConciergeReassigned)
def _(e: ConciergeReassigned, board: AssignmentBoard, at: datetime) -> None:
    code = e.enterprise.credit_code
    board.files[code].staff_id, board.files[code].assigned_at = e.to_staff_id, at
    old, new = board.staff[e.from_staff_id], board.staff[e.to_staff_id]
    old.serving.discard(code)
    if not old.serving:
        old.idle_since = at
    new.serving.add(code)
    new.served.add(code)
