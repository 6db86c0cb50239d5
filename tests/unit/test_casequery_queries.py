"""Read use cases: `as_of` takes a prefix of the stream; only a case stream of the caller's bureau is a case."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.casequery.application.queries import CaseNotFound, case_history, get_case_as_of
from services.intake.domain.case import open_case
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.casework import ConciergeAssignedToCase, ProblemClarified, ProcedureHandled
from shared.contracts.envelope import Actor, EventEnvelope
from shared.eventstore.memory import InMemoryRecorder
from shared.eventstore.recorder import NewEvent, Recording
from tests.support import case_body

T0 = datetime(2026, 10, 8, 9, tzinfo=UTC)


class FixedStreams:
    """A recorder that returns fabricated streams as they are (e.g. with skewed recorded_at)."""

    def __init__(self, *envelopes: EventEnvelope) -> None:
        self._envelopes = list(envelopes)

    async def read_stream(
        self, stream_id: str, from_version: int = 1, recorded_until: datetime | None = None
    ) -> list[EventEnvelope]:
        """Return the stream's events in version order."""
        return [e for e in self._envelopes if e.stream_id == stream_id and e.version >= from_version]


def envelope(version: int, event_type: str, data: dict, recorded_at: datetime) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        stream_id="c1",
        stream_type="case",
        version=version,
        bureau="finance",
        occurred_at=recorded_at,
        recorded_at=recorded_at,
        actor=Actor(kind="service", id="t"),
        correlation_id=uuid.uuid4(),
        data=data,
    )


def skewed_stream() -> FixedStreams:
    """Versions 1..4 where version 3's writer's clock ran behind: recorded before version 2."""
    opened = open_case("c1", OpenCaseRequest.model_validate(case_body(1)), source="http", request_ref="k")
    assigned = ConciergeAssignedToCase(staff_id="s1", staff_name="张三", board_event_id="b1")
    clarified = ProblemClarified(summary="资金未到账", sections=["预算科"])
    handled = ProcedureHandled(description="代办拨付手续")
    return FixedStreams(
        envelope(1, "CaseOpened", opened.model_dump(mode="json"), T0),
        envelope(2, "ConciergeAssignedToCase", assigned.model_dump(mode="json"), T0 + timedelta(minutes=10)),
        envelope(3, "ProblemClarified", clarified.model_dump(mode="json"), T0 + timedelta(minutes=5)),
        envelope(4, "ProcedureHandled", handled.model_dump(mode="json"), T0 + timedelta(minutes=20)),
    )


async def test_given_a_skewed_clock_when_asked_as_of_a_moment_then_the_case_is_a_prefix_of_its_history() -> (
    None
):
    # Between version 3's (early) and version 2's recorded_at: a filter would fold 1 and 3, skipping 2.
    view = await get_case_as_of("finance", "c1", T0 + timedelta(minutes=7), recorder=skewed_stream())

    assert view["version"] == 1
    assert view["concierge"] is None and view["steps"]["clarify"] is None


async def test_given_a_skewed_clock_when_asked_after_the_late_event_then_every_earlier_version_is_folded() -> (
    None
):
    view = await get_case_as_of("finance", "c1", T0 + timedelta(minutes=15), recorder=skewed_stream())

    assert view["version"] == 3
    assert view["concierge"]["name"] == "张三" and view["problem"]["summary"] == "资金未到账"


async def test_given_a_moment_before_the_case_when_asked_as_of_it_then_not_found() -> None:
    with pytest.raises(CaseNotFound):
        await get_case_as_of("finance", "c1", T0 - timedelta(days=1), recorder=skewed_stream())


def recording(stream_id: str, stream_type: str, bureau: str = "finance") -> Recording:
    return Recording(
        stream_id=stream_id,
        stream_type=stream_type,
        expected_version=0,
        bureau=bureau,
        actor=Actor(kind="service", id="t"),
        command_id=uuid.uuid4().hex,
        correlation_id=uuid.uuid4(),
    )


@pytest.mark.parametrize(
    ("stream_id", "stream_type", "event_type"),
    [
        ("board-finance", "board", "StaffAdded"),
        ("workday-calendar-CN", "calendar", "CalendarYearPublished"),
        ("fake-case", "case", "StaffAdded"),  # a case-typed stream that does not open with CaseOpened
    ],
)
async def test_given_a_stream_that_is_not_a_case_when_its_history_is_asked_then_not_found(
    stream_id: str, stream_type: str, event_type: str
) -> None:
    recorder = InMemoryRecorder()
    await recorder.append(recording(stream_id, stream_type), [NewEvent(event_type, 1, {"any": "thing"})])

    with pytest.raises(CaseNotFound):
        await case_history("finance", stream_id, recorder=recorder)
    with pytest.raises(CaseNotFound):
        await get_case_as_of("finance", stream_id, datetime.now(UTC), recorder=recorder)


async def test_given_a_case_of_another_bureau_when_its_history_is_asked_then_not_found() -> None:
    recorder = InMemoryRecorder()
    opened = open_case("c9", OpenCaseRequest.model_validate(case_body(9)), source="http", request_ref="k")
    await recorder.append(
        recording("c9", "case", bureau="innovation"),
        [NewEvent("CaseOpened", 1, opened.model_dump(mode="json"))],
    )

    assert [e.event_type for e in await case_history("innovation", "c9", recorder=recorder)] == ["CaseOpened"]
    with pytest.raises(CaseNotFound):
        await case_history("finance", "c9", recorder=recorder)
