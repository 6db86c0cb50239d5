"""Another bureau's system submits signed cases on intake.requests.v1 with a librdkafka client."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.contracts.topics import INTAKE_REQUESTS, dlq
from shared.devstack.stack import Stack
from tests.api import Api
from tests.kafka_client import IntakeSigner, aproduce, aread_topic, intake_request, register_signer
from tests.support import case_body, credit_code, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def signer(api: Api) -> IntakeSigner:
    """A key of finance's integration, registered through the API as a bureau admin would."""
    return await register_signer(api.finance, "财政一体化系统")


async def test_request_over_kafka_becomes_a_case_found_by_enterprise(
    api: Api, stack: Stack, signer: IntakeSigner
) -> None:
    await aproduce(
        stack.config.bootstrap,
        INTAKE_REQUESTS,
        [intake_request(case_body(201, channel="other_bureau"))],
        signer=signer,
    )

    [case] = await eventually(lambda: api.cases_of(credit_code(201)), 20, "the case opened over Kafka")

    assert case["source"] == "kafka" and case["channel"] == "other_bureau" and case["bureau"] == "finance"
    events = (await api.finance.get(f"/api/v1/cases/{case['case_id']}/events")).json()
    assert events[0]["actor"]["kind"] == "integration" and events[0]["actor"]["key_id"] == signer.key_id


async def test_request_delivered_twice_opens_one_case(api: Api, stack: Stack, signer: IntakeSigner) -> None:
    request = intake_request(case_body(202), request_id="bureau-x-0001")
    await aproduce(stack.config.bootstrap, INTAKE_REQUESTS, [request, request], signer=signer)
    marker = intake_request(case_body(203))  # processed after both copies (same key, same partition)
    await aproduce(stack.config.bootstrap, INTAKE_REQUESTS, [marker], key=b"same", signer=signer)
    await aproduce(stack.config.bootstrap, INTAKE_REQUESTS, [request], key=b"same", signer=signer)

    await eventually(lambda: api.cases_of(credit_code(203)), 20, "the marker case")
    await eventually(lambda: api.cases_of(credit_code(202)), 20, "the duplicated case")
    assert len(await api.cases_of(credit_code(202))) == 1


async def test_bad_messages_go_to_the_dead_letter_topic_and_the_next_good_one_is_processed(
    api: Api, stack: Stack, signer: IntakeSigner
) -> None:
    run = uuid.uuid4().hex
    undecodable = b"\xff\xfe not json " + run.encode()
    invalid = intake_request(case_body(204, category="lottery"), request_id=f"invalid-{run}")
    unknown_bureau = intake_request(case_body(205), bureau="no-such-bureau", request_id=f"unknown-{run}")
    good = intake_request(case_body(206))
    key = run.encode()  # one partition: the good message comes after the bad ones
    await aproduce(
        stack.config.bootstrap,
        INTAKE_REQUESTS,
        [undecodable, invalid, unknown_bureau, good],
        key=key,
        signer=signer,
    )

    await eventually(lambda: api.cases_of(credit_code(206)), 20, "the good case after the bad messages")

    async def dead_letters() -> list:
        found = await aread_topic(stack.config.bootstrap, dlq(INTAKE_REQUESTS), until=10_000, timeout=2)
        ours = [m for m in found if m.key() == key]
        return ours if len(ours) >= 3 else []

    letters = await eventually(dead_letters, 30, "three dead letters")
    by_value = {m.value(): dict(m.headers() or []) for m in letters}
    assert set(by_value) == {undecodable, invalid, unknown_bureau}  # the original bytes are kept
    assert b"invalid IntakeRequestV1" in by_value[undecodable]["dlq-reason"]
    assert b"category" in by_value[invalid]["dlq-reason"]
    # finance's key cannot speak for another bureau, known or not.
    assert b"the message claims bureau 'no-such-bureau'" in by_value[unknown_bureau]["dlq-reason"]
    assert by_value[invalid]["dlq-source-topic"] == INTAKE_REQUESTS.encode()
    assert await api.cases_of(credit_code(204)) == [] and await api.cases_of(credit_code(205)) == []
    assert json.loads(invalid)["request_id"] == f"invalid-{run}"
