"""Opening a case: once per request, and a reused key with another request is refused."""

import uuid

import pytest

from services.intake.application.open_case import IdempotencyKeyReused, OpenCase, open_case
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.envelope import Actor
from shared.eventstore.memory import InMemoryRecorder
from tests.support import case_body


def command(ref: str | None, **body: object) -> OpenCase:
    return OpenCase(
        bureau="finance",
        request=OpenCaseRequest.model_validate(case_body(1, **body)),
        source="http",
        request_ref=ref,
        actor=Actor(kind="api_key", id="k1", bureau="finance"),
        correlation_id=uuid.uuid4(),
    )


async def test_records_case_opened_with_the_request() -> None:
    recorder = InMemoryRecorder()
    opened = await open_case(command("r1", legacy=True), recorder=recorder)
    [event] = await recorder.read_stream(opened.case_id)
    assert (event.event_type, event.version, event.bureau) == ("CaseOpened", 1, "finance")
    assert event.data["legacy"] is True and event.data["request_ref"] == "r1"
    assert not opened.replayed


async def test_same_request_twice_opens_one_case() -> None:
    recorder = InMemoryRecorder()
    first = await open_case(command("r1"), recorder=recorder)
    again = await open_case(command("r1"), recorder=recorder)
    assert again.case_id == first.case_id and again.replayed
    assert len(await recorder.read_all()) == 1


async def test_reused_key_with_another_request_is_refused() -> None:
    recorder = InMemoryRecorder()
    await open_case(command("r1"), recorder=recorder)
    with pytest.raises(IdempotencyKeyReused, match="different request"):
        await open_case(command("r1", title="别的问题"), recorder=recorder)
    assert len(await recorder.read_all()) == 1


async def test_without_a_key_every_request_opens_a_new_case() -> None:
    recorder = InMemoryRecorder()
    a = await open_case(command(None), recorder=recorder)
    b = await open_case(command(None), recorder=recorder)
    assert a.case_id != b.case_id
