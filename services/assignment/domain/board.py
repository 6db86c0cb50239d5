"""The assignment board of one bureau: its roster, who serves which enterprise, and who waits.

Synchronous, no I/O. State changes only by applying events. A decision applies each event as it makes
it and returns them all (as `eventsourcing` aggregates trigger events), so a multi-step decision sees its
own earlier steps without copying the board; whoever holds the board drops it if saving fails.
Lookups are by index (case -> enterprise, an ordered waiting list), never a scan of all cases.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from services.assignment.domain.board_evolution import evolve
from services.assignment.domain.roster import EnterpriseFile, Staff
from services.assignment.domain.rules import (
    RULE_VERSION,
    AssignmentRefused,
    Choice,
    UnknownOnTheBoard,
    a_reopened_case_returns_to_its_concierge_even_beyond_capacity,
    evaluate,
    pick,
)
from services.assignment.domain.staffing import StaffingDecisions
from shared.contracts.assignment import (
    FALLBACK_POSTS,
    LEADERSHIP_POSTS,
    MANAGEMENT_POSTS,
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
from shared.contracts.cases import Category, Enterprise
from shared.workdays.calendar import SHANGHAI


class AssignmentBoard(StaffingDecisions):
    """Aggregate: the roster and the concierge assignments of one bureau (stream board-<bureau>).

    Roster decisions (people, posts, departures, leaves) are in `staffing.py`; assignments here.
    """

    def __init__(self, bureau: str, capacity: int = 1) -> None:
        self.bureau = bureau
        self.capacity = capacity
        self.capacity_set = False  # True once the bureau recorded its own setting (else the default)
        self.version = 0
        self.staff: dict[str, Staff] = {}
        self.files: dict[str, EnterpriseFile] = {}
        self.approvals: dict[str, tuple[str, str]] = {}  # credit code -> (approval id, staff id)
        self.assigned_enterprises: set[str] = set()
        self.notices: dict[str, NoticePublished] = {}
        self._case_file: dict[str, str] = {}  # open case -> credit code
        self._waiting: dict[str, None] = {}  # credit codes in queue order (insertion = oldest first)
        self.stamp: datetime | None = None  # the time the events decided now will be recorded with

    # ---- reads -------------------------------------------------------------------------------
    def queue(self) -> list[EnterpriseFile]:
        """Return the enterprises waiting for a concierge, oldest first."""
        return [self.files[code] for code in self._waiting]

    def file_of_case(self, case_id: str) -> EnterpriseFile | None:
        """Return the open file holding a case."""
        code = self._case_file.get(case_id)
        return self.files.get(code) if code else None

    # ---- decisions ---------------------------------------------------------------------------
    def open_case(
        self, case_id: str, enterprise: Enterprise, category: Category, now: datetime
    ) -> list[BaseModel]:
        """Give a new case to its enterprise's concierge, a free one, or the queue."""
        if self.file_of_case(case_id):
            return []  # already handled: a redelivered CaseOpened (a replay of one resolved since is
            # stopped by the event store: its command id, derived from the event id, is already recorded)
        return self._place(case_id, enterprise, category, now)

    def _place(
        self,
        case_id: str,
        enterprise: Enterprise,
        category: Category,
        now: datetime,
        note: str = "",
        withdrawn: str | None = None,
    ) -> list[BaseModel]:
        # `withdrawn`: the concierge a reopened case still names; if it waits, the case is told it lost them.
        file = self.files.get(enterprise.credit_code)
        if file and file.staff_id:
            joined = CaseJoinedEnterprise(
                enterprise=enterprise,
                case_id=case_id,
                staff_id=file.staff_id,
                category=category,
                reason=f"{note}the enterprise keeps its concierge (rule 4)" if note else None,
            )
            return self._emit([joined], now)
        if file is None:
            chosen = self._choose(enterprise.credit_code, category, now)
            if chosen.staff is not None:
                return self._emit([self._assigned(enterprise, category, [case_id], chosen, note)], now)
            reason = chosen.why_none
        else:
            reason = "the enterprise is already waiting for a concierge"
        queued = EnterpriseQueued(
            enterprise=enterprise,
            case_id=case_id,
            category=category,
            reason=note + reason,
            withdrawn_staff_id=withdrawn,
            case_ids=[case_id] if withdrawn else [],
        )
        return self._emit([queued], now)

    def resolve_case(self, case_id: str, now: datetime) -> list[BaseModel]:
        """Take a resolved case off its enterprise; release the concierge when none is left."""
        file = self.file_of_case(case_id)
        if file is None:
            return []
        last = file.open_cases == [case_id]
        if file.staff_id is None:  # resolved while waiting: it must not keep its enterprise in the queue
            left = CaseLeftQueue(enterprise=file.enterprise, case_id=case_id, enterprise_left=last)
            return self._emit([left], now)
        staff_id = file.staff_id
        events = self._emit(
            [CaseLeftEnterprise(enterprise=file.enterprise, case_id=case_id, staff_id=staff_id)], now
        )
        if last:
            events += self._emit([ConciergeReleased(enterprise=file.enterprise, staff_id=staff_id)], now)
            events += self.serve_queue(now)
        return events

    def reopen_case(
        self,
        case_id: str,
        enterprise: Enterprise,
        category: Category,
        staff_id: str | None,
        now: datetime,
    ) -> list[BaseModel]:
        """A reopened case goes back to its concierge (as its own stream names), even beyond capacity."""
        if self.file_of_case(case_id):
            return []
        if enterprise.credit_code in self.files:
            # The enterprise is served (or waits) for another open case: the case joins it (rule 4).
            return self._place(case_id, enterprise, category, now, "reopened; ", withdrawn=staff_id)
        person = self.staff.get(staff_id) if staff_id else None
        if person is None:
            # It never had a concierge (resolved while waiting): it is placed like a new case.
            return self._place(case_id, enterprise, category, now, withdrawn=staff_id)
        why_not = a_reopened_case_returns_to_its_concierge_even_beyond_capacity(person, now)
        if why_not:
            return self._place(
                case_id,
                enterprise,
                category,
                now,
                f"reopened; {person.name} cannot take it back: {why_not}; ",
                withdrawn=staff_id,
            )
        joined = CaseJoinedEnterprise(
            enterprise=enterprise,
            case_id=case_id,
            staff_id=person.staff_id,
            category=category,
            reason=(
                f"reopened: back to {person.name} (rule 7), who now serves {len(person.serving) + 1} "
                f"enterprise(s) of {self.capacity} allowed; it counts against that number"
            ),
        )
        return self._emit([joined], now)

    def approve_fallback(
        self, approval_id: str, credit_code: str, staff_id: str, approved_by: str, note: str, now: datetime
    ) -> list[BaseModel]:
        """Leadership approves an experienced staff member or service model for a waiting enterprise."""
        approver = self._present(approved_by)
        if approver.post not in LEADERSHIP_POSTS:
            raise AssignmentRefused(
                f"{approver.name} 不是局领导（局长或党支部书记） / "
                f"{approver.name} is not bureau leadership (局长 or 党支部书记)"
            )
        person = self._present(staff_id)
        if person.post not in FALLBACK_POSTS:
            raise AssignmentRefused(
                f"{person.name} 不是业务骨干或服务模范 / {person.name} is not experienced staff or a service model"
            )
        file = self.files.get(credit_code)
        if file is None or file.staff_id is not None:
            raise AssignmentRefused(
                f"企业 {credit_code} 不在待分配队列中 / enterprise {credit_code} is not waiting for a concierge"
            )
        approval = FallbackApproved(
            approval_id=approval_id,
            credit_code=credit_code,
            staff_id=staff_id,
            approved_by=approved_by,
            note=note,
        )
        return [*self._emit([approval], now), *self.serve_queue(now, only=credit_code)]

    def reassign(
        self, credit_code: str, to_staff_id: str, reason: str, now: datetime, approved_by: str | None = None
    ) -> list[BaseModel]:
        """Leadership moves an enterprise to another concierge, with a reason and who approved it."""
        file = self.files.get(credit_code)
        if file is None or file.staff_id is None:
            raise AssignmentRefused(
                f"企业 {credit_code} 尚无专责店小二，无从改派 / enterprise {credit_code} has no concierge to replace"
            )
        if not reason.strip():
            raise AssignmentRefused("改派需要说明原因 / a reassignment needs a reason")
        self._person(to_staff_id)
        return self._reassign_away(
            credit_code, to_staff_id, reason, now, required=True, approved_by=approved_by
        )

    def set_capacity(self, enterprises_per_concierge: int, now: datetime) -> list[BaseModel]:
        """Change how many enterprises one concierge serves; a higher number lets waiting ones be served."""
        if enterprises_per_concierge == self.capacity:
            return []
        events = self._emit([ConciergeCapacitySet(enterprises_per_concierge=enterprises_per_concierge)], now)
        return events + self.serve_queue(now)

    def publish_notice(self, notice: NoticePublished, now: datetime) -> list[BaseModel]:
        """Record a published notice (its number must be the next of its year)."""
        if notice.document_number in {n.document_number for n in self.notices.values()}:
            raise AssignmentRefused(
                f"文号 {notice.document_number} 已被使用 / document number {notice.document_number} is already used"
            )
        return self._emit([notice], now)

    # ---- helpers -----------------------------------------------------------------------------
    def _reassign_away(
        self,
        credit_code: str,
        to_staff_id: str | None,
        reason: str,
        now: datetime,
        required: bool = False,
        approved_by: str | None = None,
    ) -> list[BaseModel]:
        file = self.files[credit_code]
        assert file.staff_id is not None
        if to_staff_id is not None:
            person = self.staff.get(to_staff_id)
            verdict = evaluate(self, person, credit_code, now) if person else None
            if verdict is None or not verdict.eligible:
                why = verdict.reason if verdict else "not on the roster"
                if required:
                    who = person.name if person else to_staff_id
                    raise AssignmentRefused(f"{who} 现在不能接手该企业 / {who} cannot take it: {why}")
                # A deputy who cannot take it (busy, away, left since): the rules choose, and say why.
                reason, to_staff_id = f"{reason}; deputy {to_staff_id} cannot take it: {why}", None
        if to_staff_id is None:
            chosen = self._choose(credit_code, file.category, now, exclude=file.staff_id)
            to_staff_id = chosen.staff.staff_id if chosen.staff else None
        if to_staff_id is None:
            queued = EnterpriseQueued(
                enterprise=file.enterprise,
                case_id=file.open_cases[0],
                category=file.category,
                reason=f"{reason}; no eligible replacement",
                withdrawn_staff_id=file.staff_id,
                case_ids=list(file.open_cases),
            )
            return self._emit([queued], now)
        moved = ConciergeReassigned(
            enterprise=file.enterprise,
            from_staff_id=file.staff_id,
            to_staff_id=to_staff_id,
            to_staff_name=self.staff[to_staff_id].name,
            reason=reason,
            case_ids=list(file.open_cases),
            approved_by=approved_by,
        )
        return self._emit([moved], now)

    def serve_queue(self, now: datetime, only: str | None = None) -> list[BaseModel]:
        """Assign free concierges to waiting enterprises, oldest first."""
        events: list[BaseModel] = []
        for code in [only] if only else list(self._waiting):
            if code not in self._waiting:
                continue
            if not self._anyone_could_serve(now):
                break
            file = self.files[code]
            chosen = self._choose(code, file.category, now)
            if chosen.staff is not None:
                events += self._emit(
                    [self._assigned(file.enterprise, file.category, list(file.open_cases), chosen)], now
                )
        return events

    def _anyone_could_serve(self, now: datetime) -> bool:
        # Stops a pass over a long queue as soon as nobody is left to assign (clerks never count).
        today = now.astimezone(SHANGHAI).date()
        approved = {staff_id for _, staff_id in self.approvals.values()}
        return any(
            len(s.serving) < self.capacity
            and not s.departed
            and not s.on_leave(today)
            and (s.post in MANAGEMENT_POSTS or s.staff_id in approved)
            for s in self.staff.values()
        )

    def _choose(
        self, credit_code: str, category: Category, now: datetime, exclude: str | None = None
    ) -> Choice:
        verdicts = [
            evaluate(self, s, credit_code, now, category)
            for s in self.staff.values()
            if s.staff_id != exclude
        ]
        return pick(verdicts, self)

    def _assigned(
        self, enterprise: Enterprise, category: Category, case_ids: list[str], chosen: Choice, note: str = ""
    ) -> ConciergeAssigned:
        person = chosen.staff
        assert person is not None
        approval = self.approvals.get(enterprise.credit_code)
        return ConciergeAssigned(
            enterprise=enterprise,
            staff_id=person.staff_id,
            staff_name=person.name,
            post=person.post,
            case_ids=case_ids,
            category=category,
            candidates=chosen.candidates,
            rule_version=RULE_VERSION,
            fallback_approval_id=approval[0] if approval and approval[1] == person.staff_id else None,
            reason=note + chosen.reason,
        )

    def _person(self, staff_id: str) -> Staff:
        try:
            return self.staff[staff_id]
        except KeyError:
            raise UnknownOnTheBoard(
                f"本局名册中没有 {staff_id} / no staff member {staff_id} in bureau {self.bureau}", staff_id
            ) from None

    def _emit(self, events: list[BaseModel], now: datetime) -> list[BaseModel]:
        """Apply events as they are decided and return them, for the caller to record."""
        # Applied at the time they will be recorded with (`stamp`, set by whoever records them), so that a
        # replay of the stream, which applies each event at its recorded time, gives this very board.
        for event in events:
            self.apply(event, self.stamp or now)
        return events

    # ---- evolution ---------------------------------------------------------------------------
    def apply(self, event: BaseModel, at: datetime) -> None:
        """Change state by one event (events of other kinds leave it alone); see board_evolution.py."""
        evolve(event, self, at)
