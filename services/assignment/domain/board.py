"""The assignment board of one bureau: its roster, who serves which enterprise, and who waits.

Synchronous, no I/O. State changes only by applying events. A decision applies each event as it makes
it and returns them all (as `eventsourcing` aggregates trigger events), so a multi-step decision sees its
own earlier steps without copying the board; whoever holds the board drops it if saving fails.
Lookups are by index (case -> enterprise, an ordered waiting list), never a scan of all cases.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import singledispatchmethod

from pydantic import BaseModel

from services.assignment.domain.rules import RULE_VERSION, AssignmentRefused, Choice, evaluate, pick
from shared.contracts.assignment import (
    FALLBACK_POSTS,
    LEADERSHIP_POSTS,
    MANAGEMENT_POSTS,
    CaseJoinedEnterprise,
    CaseLeftEnterprise,
    ConciergeAssigned,
    ConciergeCapacitySet,
    ConciergeReassigned,
    ConciergeReleased,
    EnterpriseQueued,
    FallbackApproved,
    NoticePublished,
    Post,
    StaffLeaveRecorded,
    StaffMemberAdded,
    StaffMemberChanged,
)
from shared.contracts.cases import Category, Enterprise
from shared.workdays.calendar import SHANGHAI


@dataclass
class Staff:
    """A person on the roster and their concierge record."""

    staff_id: str
    name: str
    post: Post
    section: str
    leaves: list[tuple[date, date]] = field(default_factory=list)
    serving: set[str] = field(default_factory=set)  # credit codes
    served_total: int = 0
    idle_since: datetime | None = None
    experience: Counter[str] = field(default_factory=Counter)

    def on_leave(self, day: date) -> bool:
        """Tell whether the person is on leave that day."""
        return any(first <= day <= last for first, last in self.leaves)


@dataclass
class EnterpriseFile:
    """An enterprise with unresolved cases and its concierge (None while it waits)."""

    enterprise: Enterprise
    category: Category
    open_cases: list[str]
    staff_id: str | None = None
    queued_at: datetime | None = None


class AssignmentBoard:
    """Aggregate: the roster and the concierge assignments of one bureau (stream board-<bureau>)."""

    def __init__(self, bureau: str, capacity: int = 1) -> None:
        self.bureau = bureau
        self.capacity = capacity
        self.version = 0
        self.staff: dict[str, Staff] = {}
        self.files: dict[str, EnterpriseFile] = {}
        self.approvals: dict[str, tuple[str, str]] = {}  # credit code -> (approval id, staff id)
        self.case_staff: dict[str, str] = {}  # every case ever assigned -> its concierge
        self.assigned_enterprises: set[str] = set()
        self.notices: dict[str, NoticePublished] = {}
        self._case_file: dict[str, str] = {}  # open case -> credit code
        self._waiting: dict[str, None] = {}  # credit codes in queue order (insertion = oldest first)

    # ---- reads -------------------------------------------------------------------------------
    def queue(self) -> list[EnterpriseFile]:
        """Return the enterprises waiting for a concierge, oldest first."""
        return [self.files[code] for code in self._waiting]

    def file_of_case(self, case_id: str) -> EnterpriseFile | None:
        """Return the open file holding a case."""
        code = self._case_file.get(case_id)
        return self.files.get(code) if code else None

    # ---- decisions ---------------------------------------------------------------------------
    def add_staff(self, staff_id: str, name: str, post: Post, section: str, now: datetime) -> list[BaseModel]:
        """Add a person to the roster; a management-post newcomer takes the oldest waiting enterprise."""
        if staff_id in self.staff:
            raise AssignmentRefused(f"staff {staff_id} is already on the roster")
        added = self._emit([StaffMemberAdded(staff_id=staff_id, name=name, post=post, section=section)], now)
        return [*added, *self.serve_queue(now)]

    def change_staff(self, staff_id: str, post: Post, section: str, now: datetime) -> list[BaseModel]:
        """Change a person's post or section."""
        self._person(staff_id)
        return self._emit([StaffMemberChanged(staff_id=staff_id, post=post, section=section)], now)

    def open_case(
        self, case_id: str, enterprise: Enterprise, category: Category, now: datetime
    ) -> list[BaseModel]:
        """Give a new case to its enterprise's concierge, a free one, or the queue."""
        if case_id in self.case_staff or self.file_of_case(case_id):
            return []  # already handled: a redelivered CaseOpened
        file = self.files.get(enterprise.credit_code)
        if file and file.staff_id:
            joined = CaseJoinedEnterprise(enterprise=enterprise, case_id=case_id, staff_id=file.staff_id)
            return self._emit([joined], now)
        if file is None:
            chosen = self._choose(enterprise.credit_code, category, now)
            if chosen.staff is not None:
                return self._emit([self._assigned(enterprise, category, [case_id], chosen)], now)
            reason = chosen.why_none
        else:
            reason = "the enterprise is already waiting for a concierge"
        queued = EnterpriseQueued(enterprise=enterprise, case_id=case_id, category=category, reason=reason)
        return self._emit([queued], now)

    def resolve_case(self, case_id: str, now: datetime) -> list[BaseModel]:
        """Take a resolved case off its enterprise; release the concierge when none is left."""
        file = self.file_of_case(case_id)
        if file is None or file.staff_id is None:
            return []
        staff_id, last = file.staff_id, file.open_cases == [case_id]
        events = self._emit(
            [CaseLeftEnterprise(enterprise=file.enterprise, case_id=case_id, staff_id=staff_id)], now
        )
        if last:
            events += self._emit([ConciergeReleased(enterprise=file.enterprise, staff_id=staff_id)], now)
            events += self.serve_queue(now)
        return events

    def reopen_case(
        self, case_id: str, enterprise: Enterprise, category: Category, now: datetime
    ) -> list[BaseModel]:
        """A reopened case goes back to the same concierge, even beyond capacity."""
        staff_id = self.case_staff.get(case_id)
        if staff_id is None or self.file_of_case(case_id):
            return []
        return self._emit(
            [CaseJoinedEnterprise(enterprise=enterprise, case_id=case_id, staff_id=staff_id)], now
        )

    def approve_fallback(
        self, approval_id: str, credit_code: str, staff_id: str, approved_by: str, note: str, now: datetime
    ) -> list[BaseModel]:
        """Leadership approves an experienced staff member or service model for a waiting enterprise."""
        approver = self._person(approved_by)
        if approver.post not in LEADERSHIP_POSTS:
            raise AssignmentRefused(f"{approver.name} is not bureau leadership (局长 or 党支部书记)")
        person = self._person(staff_id)
        if person.post not in FALLBACK_POSTS:
            raise AssignmentRefused(f"{person.name} is not experienced staff or a service model")
        file = self.files.get(credit_code)
        if file is None or file.staff_id is not None:
            raise AssignmentRefused(f"enterprise {credit_code} is not waiting for a concierge")
        approval = FallbackApproved(
            approval_id=approval_id,
            credit_code=credit_code,
            staff_id=staff_id,
            approved_by=approved_by,
            note=note,
        )
        return [*self._emit([approval], now), *self.serve_queue(now, only=credit_code)]

    def record_leave(
        self,
        leave_id: str,
        staff_id: str,
        first_day: date,
        last_day: date,
        reason: str,
        deputy: str | None,
        now: datetime,
    ) -> list[BaseModel]:
        """Record leave; enterprises of a concierge on leave today go to the deputy or the next eligible."""
        if last_day < first_day:
            raise AssignmentRefused("leave ends before it starts")
        person = self._person(staff_id)
        leave = StaffLeaveRecorded(
            staff_id=staff_id, leave_id=leave_id, first_day=first_day, last_day=last_day, reason=reason
        )
        events = self._emit([leave], now)
        if first_day <= now.astimezone(SHANGHAI).date() <= last_day:
            for code in sorted(person.serving):
                events += self._reassign_away(code, deputy, f"{person.name} on leave: {reason}", now)
        return events

    def reassign(self, credit_code: str, to_staff_id: str, reason: str, now: datetime) -> list[BaseModel]:
        """Leadership moves an enterprise to another concierge, with a reason."""
        file = self.files.get(credit_code)
        if file is None or file.staff_id is None:
            raise AssignmentRefused(f"enterprise {credit_code} has no concierge to replace")
        if not reason.strip():
            raise AssignmentRefused("a reassignment needs a reason")
        return self._reassign_away(credit_code, to_staff_id, reason, now, required=True)

    def set_capacity(self, enterprises_per_concierge: int, now: datetime) -> list[BaseModel]:
        """Change how many enterprises one concierge serves; a higher number lets waiting ones be served."""
        if enterprises_per_concierge == self.capacity:
            return []
        events = self._emit([ConciergeCapacitySet(enterprises_per_concierge=enterprises_per_concierge)], now)
        return events + self.serve_queue(now)

    def publish_notice(self, notice: NoticePublished, now: datetime) -> list[BaseModel]:
        """Record a published notice (its number must be the next of its year)."""
        if notice.document_number in {n.document_number for n in self.notices.values()}:
            raise AssignmentRefused(f"document number {notice.document_number} is already used")
        return self._emit([notice], now)

    def next_document_number(self, prefix: str, year: int) -> str:
        """Return the next number of the year, e.g. 高新财金〔2026〕3号."""
        count = sum(1 for n in self.notices.values() if n.issued_on.year == year)
        return f"{prefix}〔{year}〕{count + 1}号"

    # ---- helpers -----------------------------------------------------------------------------
    def _reassign_away(
        self, credit_code: str, to_staff_id: str | None, reason: str, now: datetime, required: bool = False
    ) -> list[BaseModel]:
        file = self.files[credit_code]
        assert file.staff_id is not None
        if to_staff_id is not None:
            verdict = evaluate(self, self._person(to_staff_id), credit_code, now)
            if not verdict.eligible:
                if required:
                    raise AssignmentRefused(
                        f"{self.staff[to_staff_id].name} cannot take it: {verdict.reason}"
                    )
                to_staff_id = None
        if to_staff_id is None:
            chosen = self._choose(credit_code, file.category, now, exclude=file.staff_id)
            to_staff_id = chosen.staff.staff_id if chosen.staff else None
        if to_staff_id is None:
            queued = EnterpriseQueued(
                enterprise=file.enterprise,
                case_id=file.open_cases[0],
                category=file.category,
                reason=f"{reason}; no eligible replacement",
            )
            return self._emit([queued], now)
        moved = ConciergeReassigned(
            enterprise=file.enterprise,
            from_staff_id=file.staff_id,
            to_staff_id=to_staff_id,
            to_staff_name=self.staff[to_staff_id].name,
            reason=reason,
            case_ids=list(file.open_cases),
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
        self, enterprise: Enterprise, category: Category, case_ids: list[str], chosen: Choice
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
            reason=chosen.reason,
        )

    def _person(self, staff_id: str) -> Staff:
        try:
            return self.staff[staff_id]
        except KeyError:
            raise AssignmentRefused(f"no staff member {staff_id} in bureau {self.bureau}") from None

    def _emit(self, events: list[BaseModel], now: datetime) -> list[BaseModel]:
        """Apply events as they are decided and return them, for the caller to record."""
        for event in events:
            self.apply(event, now)
        return events

    # ---- evolution ---------------------------------------------------------------------------
    @singledispatchmethod
    def apply(self, event: BaseModel, at: datetime) -> None:
        """Change state by one event (events of other kinds leave it alone)."""

    @apply.register
    def _(self, e: StaffMemberAdded, at: datetime) -> None:
        self.staff[e.staff_id] = Staff(e.staff_id, e.name, e.post, e.section)

    @apply.register
    def _(self, e: StaffMemberChanged, at: datetime) -> None:
        self.staff[e.staff_id].post, self.staff[e.staff_id].section = e.post, e.section

    @apply.register
    def _(self, e: StaffLeaveRecorded, at: datetime) -> None:
        self.staff[e.staff_id].leaves.append((e.first_day, e.last_day))

    @apply.register
    def _(self, e: ConciergeAssigned, at: datetime) -> None:
        code = e.enterprise.credit_code
        file = self.files.get(code) or EnterpriseFile(e.enterprise, e.category, [])
        file.staff_id = e.staff_id
        file.open_cases = list(dict.fromkeys([*file.open_cases, *e.case_ids]))
        self.files[code] = file
        person = self.staff[e.staff_id]
        person.serving.add(code)
        person.served_total += 1
        person.experience[e.category.value] += 1
        self.case_staff.update({c: e.staff_id for c in e.case_ids})
        self._case_file.update({c: code for c in e.case_ids})
        self._waiting.pop(code, None)
        self.assigned_enterprises.add(code)
        self.approvals.pop(code, None)

    @apply.register
    def _(self, e: CaseJoinedEnterprise, at: datetime) -> None:
        code = e.enterprise.credit_code
        file = self.files.get(code)
        if file is None:  # a reopened case of an enterprise with nothing else open
            file = self.files[code] = EnterpriseFile(e.enterprise, Category.FISCAL_POLICY, [], e.staff_id)
            self.staff[e.staff_id].serving.add(code)
        file.open_cases.append(e.case_id)
        self.case_staff[e.case_id] = e.staff_id
        self._case_file[e.case_id] = code

    @apply.register
    def _(self, e: EnterpriseQueued, at: datetime) -> None:
        code = e.enterprise.credit_code
        file = self.files.get(code)
        self._case_file[e.case_id] = code
        if file is None:
            self.files[code] = EnterpriseFile(e.enterprise, e.category, [e.case_id], None, at)
            self._waiting[code] = None
            return
        if file.staff_id is not None:  # its concierge was taken away with no replacement
            self.staff[file.staff_id].serving.discard(code)
            file.staff_id, file.queued_at = None, at
            self._waiting[code] = None
        if e.case_id not in file.open_cases:
            file.open_cases.append(e.case_id)

    @apply.register
    def _(self, e: CaseLeftEnterprise, at: datetime) -> None:
        file = self.files[e.enterprise.credit_code]
        file.open_cases.remove(e.case_id)
        self._case_file.pop(e.case_id, None)

    @apply.register
    def _(self, e: ConciergeReleased, at: datetime) -> None:
        code = e.enterprise.credit_code
        for case_id in self.files.pop(code).open_cases:
            self._case_file.pop(case_id, None)
        person = self.staff[e.staff_id]
        person.serving.discard(code)
        if not person.serving:
            person.idle_since = at

    @apply.register
    def _(self, e: ConciergeCapacitySet, at: datetime) -> None:
        self.capacity = e.enterprises_per_concierge

    @apply.register
    def _(self, e: NoticePublished, at: datetime) -> None:
        self.notices[e.notice_id] = e

    @apply.register
    def _(self, e: FallbackApproved, at: datetime) -> None:
        self.approvals[e.credit_code] = (e.approval_id, e.staff_id)

    @apply.register
    def _(self, e: ConciergeReassigned, at: datetime) -> None:
        code = e.enterprise.credit_code
        self.files[code].staff_id = e.to_staff_id
        old, new = self.staff[e.from_staff_id], self.staff[e.to_staff_id]
        old.serving.discard(code)
        if not old.serving:
            old.idle_since = at
        new.serving.add(code)
        new.served_total += 1
        self.case_staff.update({c: e.to_staff_id for c in e.case_ids})
