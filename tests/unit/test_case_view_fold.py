"""The case view is a pure fold over the case's events."""

import uuid
from datetime import UTC, datetime

from services.casequery.projections.case_view import fold, fold_all
from services.intake.domain.case import open_case
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.envelope import Actor, EventEnvelope
from tests.support import case_body, credit_code


def envelope(event_type: str, version: int, data: dict) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        stream_id="c1",
        stream_type="case",
        version=version,
        bureau="finance",
        occurred_at=datetime(2026, 10, 8, 9, tzinfo=UTC),
        recorded_at=datetime(2026, 10, 8, 9, tzinfo=UTC),
        actor=Actor(kind="service", id="t"),
        correlation_id=uuid.uuid4(),
        data=data,
    )


def opened() -> EventEnvelope:
    event = open_case("c1", OpenCaseRequest.model_validate(case_body(7)), source="http", request_ref="k")
    return envelope("CaseOpened", 1, event.model_dump(mode="json"))


def test_case_opened_shows_an_open_case_of_the_bureau() -> None:
    view = fold(None, opened())
    assert (view["case_id"], view["status"], view["bureau"], view["version"]) == ("c1", "open", "finance", 1)
    assert view["enterprise"]["credit_code"] == credit_code(7)


def test_same_events_give_the_same_view() -> None:
    events = [opened()]
    assert fold_all(events) == fold_all(events)
    assert fold_all([]) is None


def test_a_withdrawn_concierge_leaves_the_case_waiting_with_the_reason_until_the_next_assignment() -> None:
    # Given a case served by s1
    assigned = {"staff_id": "s1", "staff_name": "王科长", "board_event_id": "b1", "board_version": 3}
    served = fold_all([opened(), envelope("ConciergeAssignedToCase", 2, assigned)])
    assert served is not None and served["concierge"]["staff_id"] == "s1"

    # When s1 goes on leave and nobody is free
    withdrawn = {"staff_id": "s1", "reason": "王科长 on leave", "board_event_id": "b2", "board_version": 4}
    waiting = fold(served, envelope("ConciergeWithdrawnFromCase", 3, withdrawn))

    # Then the case shows no concierge, waiting since then and why; the next assignment ends the wait
    assert waiting["concierge"] is None
    assert waiting["waiting_for_concierge"]["reason"] == "王科长 on leave"
    again = {"staff_id": "s2", "staff_name": "李科长", "board_event_id": "b3", "board_version": 5}
    served_again = fold(waiting, envelope("ConciergeAssignedToCase", 4, again))
    assert served_again["concierge"]["staff_id"] == "s2" and served_again["waiting_for_concierge"] is None


def test_every_clarification_and_rating_is_kept_in_order_and_the_latest_is_shown() -> None:
    # Given a case clarified twice, rated 2 (reopened) and rated 5 after it was resolved again
    first = {"summary": "补贴未到账", "sections": ["国库科"]}
    second = {"summary": "补贴未到账：缺少银行回单", "sections": ["国库科", "预算科"]}
    events = [
        opened(),
        envelope("ProblemClarified", 2, first),
        envelope("ProblemClarified", 3, second),
        envelope("RatingCollected", 4, {"rating": 2, "comment": "太慢"}),
        envelope("RatingCollected", 5, {"rating": 5, "comment": "满意"}),
    ]

    # When folded
    view = fold_all(events)

    # Then both clarifications and both ratings are there, oldest first, and the latest is the current one
    assert view is not None
    assert [c["summary"] for c in view["clarifications"]] == [first["summary"], second["summary"]]
    assert view["problem"]["summary"] == second["summary"]
    assert [r["rating"] for r in view["ratings"]] == [2, 5]
    assert view["rating"]["rating"] == 5
