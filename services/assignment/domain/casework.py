"""A case through the six steps: the order is enforced where it matters, every step is an event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import singledispatchmethod

from pydantic import BaseModel

from shared.contracts.cases import Category, Enterprise
from shared.contracts.casework import (
    CaseReopened,
    CaseResolved,
    ConciergeAssignedToCase,
    ConciergeWithdrawnFromCase,
    CoordinationTaskCancelled,
    CoordinationTaskChased,
    CoordinationTaskClosed,
    CoordinationTaskDueRecomputed,
    CoordinationTaskOpened,
    PolicyRecommended,
    ProblemClarified,
    ProcedureHandled,
    RatingCollected,
)
from shared.contracts.events import CaseOpened
from shared.workdays.calendar import Deadline, WorkdayCalendar

LOW_RATING = 2
TASK_STATES_IN_CHINESE = {"open": "未完成", "closed": "已办结", "cancelled": "已取消"}


class StepRefused(Exception):
    """The step cannot be taken now; the message says why."""


@dataclass
class Task:
    """A coordination task for a section."""

    section: str
    opened_at: datetime
    working_days: int
    due_at: datetime
    provisional: bool
    state: str = "open"  # open | closed | cancelled
    calendar_versions: dict[int, int] = field(default_factory=dict)  # year -> version counted with


@dataclass
class CaseFile:
    """Aggregate: one case's flow state, folded from its stream."""

    case_id: str = ""
    bureau: str = ""
    enterprise: Enterprise | None = None
    category: Category | None = None
    version: int = 0
    concierge: str | None = None
    board_version: int = 0  # the latest board decision this case reflects (0: none recorded with one)
    clarified: bool = False
    resolved: bool = False
    rated: bool = False
    resolution_id: str | None = None  # the CaseResolved in force (event id, hex): a rating link names it
    tasks: dict[str, Task] = field(default_factory=dict)

    # ---- decisions ---------------------------------------------------------------------------
    def record_concierge(
        self, staff_id: str, staff_name: str, board_event_id: str, board_version: int | None = None
    ) -> list[BaseModel]:
        """Note the concierge the board chose, unless the case already reflects a later board decision."""
        if board_version is not None and board_version <= self.board_version:
            return []  # a replayed or late board event: the case has moved past it
        if self.concierge == staff_id:
            return []
        assigned = ConciergeAssignedToCase(
            staff_id=staff_id,
            staff_name=staff_name,
            board_event_id=board_event_id,
            board_version=board_version,
        )
        return [assigned]

    def withdraw_concierge(
        self, staff_id: str, reason: str, board_event_id: str, board_version: int
    ) -> list[BaseModel]:
        """Note that the case's concierge was taken away and it waits, unless the case has moved past it."""
        if board_version <= self.board_version or self.concierge != staff_id:
            return []  # a replayed or late board event, or the case never had that concierge
        withdrawn = ConciergeWithdrawnFromCase(
            staff_id=staff_id, reason=reason, board_event_id=board_event_id, board_version=board_version
        )
        return [withdrawn]

    def clarify(self, summary: str, sections: list[str]) -> list[BaseModel]:
        """Step 1: record the problem as understood."""
        self._require_unresolved()
        if not sections:
            raise StepRefused("请至少列出一个涉及的科室 / name at least one section involved")
        return [ProblemClarified(summary=summary, sections=sections)]

    def open_task(
        self,
        task_id: str,
        section: str,
        description: str,
        working_days: int,
        deadline: Deadline,
        now: datetime,
    ) -> list[BaseModel]:
        """Step 2: ask a section to act by a due date in working days."""
        self._require_clarified("open a coordination task", "开立协调任务")
        self._require_unresolved()
        return [
            CoordinationTaskOpened(
                task_id=task_id,
                section=section,
                description=description,
                working_days=working_days,
                opened_at=now,
                due_at=deadline.due,
                due_provisional=deadline.provisional,
                calendar_versions=dict(deadline.calendar_versions),
            )
        ]

    def recompute_due_dates(self, calendar: WorkdayCalendar, year: int, version: int) -> list[BaseModel]:
        """After a year was published or corrected, recompute every open task whose due date changes."""
        events: list[BaseModel] = []
        for task_id, task in sorted(self.tasks.items()):
            if task.state != "open":
                continue
            deadline = calendar.add_workdays(task.opened_at, task.working_days)
            if year not in deadline.calendar_versions:
                continue
            if (deadline.due, deadline.provisional) == (task.due_at, task.provisional):
                continue  # unchanged (or already recomputed: a replay finds nothing to do)
            events.append(
                CoordinationTaskDueRecomputed(
                    task_id=task_id,
                    previous_due_at=task.due_at,
                    due_at=deadline.due,
                    due_provisional=deadline.provisional,
                    calendar_year=year,
                    calendar_version=version,
                    previous_calendar_version=task.calendar_versions.get(year),
                )
            )
        return events

    def chase_task(self, task_id: str, note: str, now: datetime) -> list[BaseModel]:
        """Step 2: chase (催办) an open task."""
        task = self._open_task(task_id)
        return [CoordinationTaskChased(task_id=task_id, note=note, overdue=now > task.due_at)]

    def close_task(self, task_id: str, outcome: str) -> list[BaseModel]:
        """Step 2: a section finished its task."""
        self._open_task(task_id)
        return [CoordinationTaskClosed(task_id=task_id, outcome=outcome)]

    def cancel_task(self, task_id: str, reason: str) -> list[BaseModel]:
        """Step 2: drop a task, with a reason."""
        self._open_task(task_id)
        if not reason.strip():
            raise StepRefused("取消协调任务需要说明原因 / cancelling a task needs a reason")
        return [CoordinationTaskCancelled(task_id=task_id, reason=reason)]

    def handle_procedure(self, description: str) -> list[BaseModel]:
        """Step 3: log a procedure done on the enterprise's behalf."""
        self._require_clarified("log a procedure", "登记代办事项")
        self._require_unresolved()
        return [ProcedureHandled(description=description)]

    def resolve(self, summary: str, settlement_intent: bool) -> list[BaseModel]:
        """Step 4: resolve; every task must be closed or cancelled first."""
        self._require_clarified("resolve the case", "办结案件")
        self._require_unresolved()
        still_open = sorted(t for t, task in self.tasks.items() if task.state == "open")
        if still_open:
            open_ones = ", ".join(still_open)
            raise StepRefused(
                f"请先办结或取消未完成的协调任务：{open_ones} / close or cancel the open tasks first: {open_ones}"
            )
        return [CaseResolved(summary=summary, settlement_intent=settlement_intent)]

    def recommend_policy(self, policy: str, note: str) -> list[BaseModel]:
        """Step 5: record a policy explained to the enterprise."""
        self._require_clarified("recommend a policy", "宣讲政策")
        return [PolicyRecommended(policy=policy, note=note)]

    def collect_rating(self, rating: int, comment: str, for_resolution: str | None = None) -> list[BaseModel]:
        """Step 6: the enterprise's rating (through its link: of the resolution it names); 1 or 2 reopens the case
        for the same concierge."""
        if not self.resolved:
            raise StepRefused("案件办结后才能评价 / a rating comes after the case is resolved")
        if for_resolution is not None and for_resolution != self.resolution_id:
            raise StepRefused(
                "评价链接所属的办结已不是本案当前的办结 / the link rates an earlier resolution of this case"
            )
        if self.rated:
            raise StepRefused("本次办结已评价过 / this resolution was already rated")
        events: list[BaseModel] = [RatingCollected(rating=rating, comment=comment)]
        if rating <= LOW_RATING:
            events.append(CaseReopened(reason=f"rated {rating}: {comment}", flagged_for_leadership=True))
        return events

    def _require_clarified(self, what: str, what_in_chinese: str) -> None:
        if not self.clarified:
            raise StepRefused(
                f"请先摸清问题，再{what_in_chinese} / clarify the problem (摸清问题) before you {what}"
            )

    def _require_unresolved(self) -> None:
        if self.resolved:
            raise StepRefused("案件已办结 / the case is resolved")

    def _open_task(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None:
            raise StepRefused(f"本案件没有协调任务 {task_id} / no task {task_id} on this case")
        if task.state != "open":
            state = TASK_STATES_IN_CHINESE[task.state]
            raise StepRefused(f"协调任务 {task_id} {state} / task {task_id} is {task.state}")
        return task

    # ---- evolution ---------------------------------------------------------------------------
    @singledispatchmethod
    def apply(self, event: BaseModel) -> None:
        """Change state by one event."""

    @apply.register
    def _(self, e: CaseOpened) -> None:
        self.case_id, self.enterprise, self.category = e.case_id, e.enterprise, e.category

    @apply.register
    def _(self, e: ConciergeAssignedToCase) -> None:
        self.concierge = e.staff_id
        self.board_version = max(self.board_version, e.board_version or 0)

    @apply.register
    def _(self, e: ConciergeWithdrawnFromCase) -> None:
        self.concierge = None
        self.board_version = max(self.board_version, e.board_version)

    @apply.register
    def _(self, e: ProblemClarified) -> None:
        self.clarified = True

    @apply.register
    def _(self, e: CoordinationTaskOpened) -> None:
        versions = dict(e.calendar_versions or {})
        self.tasks[e.task_id] = Task(
            e.section, e.opened_at, e.working_days, e.due_at, e.due_provisional, calendar_versions=versions
        )

    @apply.register
    def _(self, e: CoordinationTaskDueRecomputed) -> None:
        task = self.tasks[e.task_id]
        task.due_at, task.provisional = e.due_at, e.due_provisional
        task.calendar_versions[e.calendar_year] = e.calendar_version

    @apply.register
    def _(self, e: CoordinationTaskClosed) -> None:
        self.tasks[e.task_id].state = "closed"

    @apply.register
    def _(self, e: CoordinationTaskCancelled) -> None:
        self.tasks[e.task_id].state = "cancelled"

    @apply.register
    def _(self, e: CaseResolved) -> None:
        self.resolved, self.rated = True, False

    @apply.register
    def _(self, e: RatingCollected) -> None:
        self.rated = True

    @apply.register
    def _(self, e: CaseReopened) -> None:
        self.resolved, self.rated = False, False
