"""Who may be a concierge, and who is chosen among those who may. Rules are named as sentences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.contracts.assignment import FALLBACK_POSTS, MANAGEMENT_POSTS, CandidateConsidered, Post
from shared.contracts.cases import Category
from shared.workdays.calendar import SHANGHAI

if TYPE_CHECKING:
    from services.assignment.domain.board import AssignmentBoard
    from services.assignment.domain.roster import Staff

RULE_VERSION = (
    "2026.11-3: on the roster (not departed), management post, not on leave, free capacity; "
    "fewest enterprises served (each once), category experience, longest idle; a reopened case returns to its concierge "
    "beyond capacity and counts against it"
)


class AssignmentRefused(Exception):
    """A rule forbids what was asked; the message says which and why."""


class UnknownOnTheBoard(AssignmentRefused):
    """What was asked names a person or leave the bureau's board does not hold (none, or another bureau's)."""

    def __init__(self, message: str, unknown_id: str) -> None:
        super().__init__(message)
        self.unknown_id = unknown_id


@dataclass(frozen=True)
class Verdict:
    """Whether one person may take an enterprise now, and why."""

    staff: Staff
    eligible: bool
    reason: str
    category_experience: int


def departed_staff_are_never_picked(person: Staff) -> str | None:
    """A person who left the bureau is never picked again."""
    return "left the bureau" if person.departed else None


def only_management_posts_serve_unless_leadership_approved(
    board: AssignmentBoard, person: Staff, credit_code: str
) -> str | None:
    """A concierge holds a management post, or is a leadership-approved experienced staff or service model."""
    if person.post in MANAGEMENT_POSTS:
        return None
    approval = board.approvals.get(credit_code)
    if person.post in FALLBACK_POSTS and approval and approval[1] == person.staff_id:
        return None
    if person.post in FALLBACK_POSTS:
        return "not a management post and no leadership approval for this enterprise"
    return "not a management post"


def staff_on_leave_are_never_picked(person: Staff, now: datetime) -> str | None:
    """Nobody on leave today is picked."""
    return "on leave" if person.on_leave(now.astimezone(SHANGHAI).date()) else None


def a_concierge_serves_a_limited_number_of_enterprises(board: AssignmentBoard, person: Staff) -> str | None:
    """A concierge serves at most `capacity` enterprises at a time (default one)."""
    if len(person.serving) >= board.capacity:
        return f"already serving {len(person.serving)} enterprise(s), the most allowed is {board.capacity}"
    return None


def a_post_change_keeps_a_concierge_only_if_the_post_may_serve(old: Post, new: Post) -> str | None:
    """After a post change a concierge keeps serving only on a post that may serve (rule 1)."""
    # Moving between the two fallback posts keeps the leadership approval that made them a concierge.
    if new in MANAGEMENT_POSTS or (old in FALLBACK_POSTS and new in FALLBACK_POSTS):
        return None
    return f"post changed to {new.value}, not a management post"


def a_reopened_case_returns_to_its_concierge_even_beyond_capacity(person: Staff, now: datetime) -> str | None:
    """Rule 7 over rule 3: a reopened case returns to its concierge even at capacity, and counts against it."""
    # Why: the low rating is answered by the person it rates. The enterprise is then one of theirs, so they
    # take no waiting enterprise until back under capacity. They must still be able to serve at all.
    return (
        departed_staff_are_never_picked(person)
        or staff_on_leave_are_never_picked(person, now)
        or (
            None
            if person.post in MANAGEMENT_POSTS or person.post in FALLBACK_POSTS
            else "not a management post"
        )
    )


def evaluate(
    board: AssignmentBoard, person: Staff, credit_code: str, now: datetime, category: Category | None = None
) -> Verdict:
    """Apply every eligibility rule to one person."""
    reason = (
        departed_staff_are_never_picked(person)
        or only_management_posts_serve_unless_leadership_approved(board, person, credit_code)
        or staff_on_leave_are_never_picked(person, now)
        or a_concierge_serves_a_limited_number_of_enterprises(board, person)
    )
    experience = person.experience[category.value] if category else 0
    return Verdict(person, reason is None, reason or "eligible", experience)


@dataclass(frozen=True)
class Choice:
    """The chosen person (or None), every candidate considered, and why."""

    staff: Staff | None
    candidates: list[CandidateConsidered]
    reason: str
    why_none: str


def pick(verdicts: list[Verdict], board: AssignmentBoard) -> Choice:
    """Choose the eligible person with fewest enterprises served, most category experience, longest idle."""
    eligible = [v for v in verdicts if v.eligible]
    ordered = sorted(eligible, key=_preference)
    candidates = [
        CandidateConsidered(
            staff_id=v.staff.staff_id,
            eligible=v.eligible,
            reason=v.reason,
            enterprises_served=v.staff.served_total,
            idle_since=v.staff.idle_since.isoformat() if v.staff.idle_since else None,
            category_experience=v.category_experience,
        )
        for v in sorted(verdicts, key=lambda v: v.staff.staff_id)
    ]
    if not ordered:
        why = "no management-post person is free" if verdicts else "the roster is empty"
        return Choice(None, candidates, "", why)
    best = ordered[0].staff
    reason = (
        f"{best.name}: eligible, {best.served_total} enterprise(s) served so far"
        f" (fewest among {len(ordered)} eligible), {ordered[0].category_experience} in this category"
    )
    return Choice(best, candidates, reason, "")


def _preference(v: Verdict) -> tuple:
    idle = v.staff.idle_since.timestamp() if v.staff.idle_since else float("-inf")
    return (v.staff.served_total, -v.category_experience, idle, v.staff.staff_id)
