"""The six steps in an order that matters, each an event."""

from datetime import datetime

import pytest

from services.assignment.domain.casework import CaseFile, StepRefused
from shared.contracts.casework import CaseReopened, RatingCollected
from shared.workdays.calendar import SHANGHAI, Deadline

NOW = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)
DUE = Deadline(due=datetime(2026, 10, 14, 23, 59, 59, tzinfo=SHANGHAI), provisional=False)


def play(case: CaseFile, events: list) -> list:
    for event in events:
        case.apply(event)
    return events


def test_no_task_or_resolution_before_the_problem_is_clarified() -> None:
    case = CaseFile(case_id="c1")
    with pytest.raises(StepRefused, match="clarify the problem"):
        case.open_task("t1", "国库科", "拨付", 3, DUE, NOW)
    with pytest.raises(StepRefused, match="clarify the problem"):
        case.resolve("done", True)


def test_resolution_waits_for_every_task_to_be_closed_or_cancelled() -> None:
    case = CaseFile(case_id="c1")
    play(case, case.clarify("补贴未到账", ["国库科", "预算科"]))
    play(case, case.open_task("t1", "国库科", "拨付", 3, DUE, NOW))
    play(case, case.open_task("t2", "预算科", "指标", 3, DUE, NOW))
    play(case, case.close_task("t1", "已拨付"))
    with pytest.raises(StepRefused, match="t2"):
        case.resolve("done", True)
    with pytest.raises(StepRefused, match="reason"):
        case.cancel_task("t2", "")
    play(case, case.cancel_task("t2", "不再需要"))
    play(case, case.resolve("资金一天到账", True))
    assert case.resolved


def test_chasing_marks_an_overdue_task() -> None:
    case = CaseFile(case_id="c1")
    play(case, case.clarify("x", ["国库科"]))
    play(case, case.open_task("t1", "国库科", "拨付", 3, DUE, NOW))
    [chased] = case.chase_task("t1", "请加快", datetime(2026, 10, 15, 9, tzinfo=SHANGHAI))
    assert chased.overdue


def test_rating_comes_after_resolution_and_a_low_one_reopens_for_leadership() -> None:
    case = CaseFile(case_id="c1", concierge="a")
    with pytest.raises(StepRefused, match="after the case is resolved"):
        case.collect_rating(5, "好")
    play(case, case.clarify("x", ["国库科"]))
    play(case, case.resolve("done", False))
    events = play(case, case.collect_rating(2, "太慢"))
    assert isinstance(events[0], RatingCollected) and isinstance(events[1], CaseReopened)
    assert events[1].flagged_for_leadership and not case.resolved and case.concierge == "a"


def test_a_board_decision_older_than_the_one_the_case_reflects_is_ignored() -> None:
    case = CaseFile(case_id="c1")
    play(case, case.record_concierge("s1", "甲", "e1", board_version=2))
    play(case, case.record_concierge("s2", "乙", "e5", board_version=5))
    assert case.record_concierge("s1", "甲", "e1", board_version=2) == []  # a replay of the first decision
    assert case.record_concierge("s1", "甲", "e4", board_version=4) == []  # late, and older than 5
    [newer] = case.record_concierge("s1", "甲", "e8", board_version=8)
    assert newer.board_version == 8 and case.concierge == "s2"
