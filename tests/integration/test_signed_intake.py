"""Signed intake on real Tansu and SecantusDB, produced with librdkafka (confluent-kafka) as a bureau would:
a valid signature opens a case named after the integration; unsigned, forged, altered, other-bureau and
revoked-key messages land in the DLQ with the reason and open nothing; the next valid message is processed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.auth.signing import KEY_ID_HEADER, SIGNATURE_HEADER
from shared.contracts.topics import INTAKE_REQUESTS, dlq
from shared.devstack.stack import Stack
from tests.api import Api
from tests.kafka_client import (
    Headers,
    IntakeSigner,
    aproduce,
    aproduce_records,
    aread_topic,
    intake_request,
    register_signer,
)
from tests.support import case_body, credit_code, eventually

pytestmark = pytest.mark.integration


async def dead_letters(stack: Stack, key: bytes, count: int) -> dict[bytes, dict[str, bytes]]:
    """Wait for count dead letters produced with this Kafka key; return their headers by original value."""

    async def found() -> list[Any]:
        letters = await aread_topic(stack.config.bootstrap, dlq(INTAKE_REQUESTS), until=100_000, timeout=2)
        ours = [m for m in letters if m.key() == key]
        return ours if len(ours) >= count else []

    letters = await eventually(found, 40, f"{count} dead letters")
    return {m.value(): dict(m.headers() or []) for m in letters}


async def test_signed_request_opens_a_case_whose_history_names_the_integration(
    api: Api, stack: Stack
) -> None:
    signer = await register_signer(api.finance, "财政一体化系统")

    await aproduce(stack.config.bootstrap, INTAKE_REQUESTS, [intake_request(case_body(5201))], signer=signer)

    [case] = await eventually(lambda: api.cases_of(credit_code(5201)), 30, "the signed request's case")
    [opened] = (await api.finance.get(f"/api/v1/cases/{case['case_id']}/events")).json()[:1]
    assert opened["actor"]["kind"] == "integration" and opened["actor"]["bureau"] == "finance"
    assert opened["actor"]["key_id"] == signer.key_id and opened["actor"]["name"] == "财政一体化系统"


async def test_unauthenticated_messages_are_dead_lettered_with_the_reason_and_open_nothing(
    api: Api, stack: Stack
) -> None:
    finance = await register_signer(api.finance, "财政一体化系统")
    innovation = await register_signer(api.innovation, "创新服务平台")
    forger = await register_signer(api.finance, "另一个系统")  # a real key of finance, used under another id
    run = uuid.uuid4().hex
    unsigned = intake_request(case_body(5202), request_id=f"unsigned-{run}")
    for_innovation = intake_request(case_body(5203), bureau="innovation", request_id=f"other-{run}")
    foreign_key = intake_request(case_body(5204), request_id=f"foreign-{run}")
    forged = intake_request(case_body(5205), request_id=f"forged-{run}")
    original = intake_request(case_body(5206), request_id=f"replayed-{run}")
    replayed = intake_request(case_body(5207), request_id=f"replayed-{run}")  # gets original's headers
    good = intake_request(case_body(5208), request_id=f"good-{run}")
    key = run.encode()  # one partition: the good message comes after the bad ones
    records: list[tuple[bytes, Headers | None]] = [
        (unsigned, None),
        (for_innovation, finance.headers(for_innovation)),  # finance's key, innovation's name
        (foreign_key, innovation.headers(foreign_key)),  # innovation's key, finance's name
        (forged, IntakeSigner(forger.private_key, finance.key_id, "finance").headers(forged)),
        (replayed, finance.headers(original)),
        (good, finance.headers(good)),
    ]
    await aproduce_records(stack.config.bootstrap, INTAKE_REQUESTS, records, key)

    await eventually(lambda: api.cases_of(credit_code(5208)), 30, "the valid message after the bad ones")
    reasons = {value: h["dlq-reason"].decode() for value, h in (await dead_letters(stack, key, 5)).items()}

    assert reasons[unsigned].startswith("unsigned message")
    assert "belongs to bureau 'finance', the message claims bureau 'innovation'" in reasons[for_innovation]
    assert "belongs to bureau 'innovation', the message claims bureau 'finance'" in reasons[foreign_key]
    assert reasons[forged].startswith("bad signature") and reasons[replayed].startswith("bad signature")
    for n in range(5202, 5208):
        assert (
            await api.cases_of(credit_code(n)) == []
            and await api.cases_of(credit_code(n), api.innovation) == []
        )


async def test_messages_signed_with_a_revoked_key_are_dead_lettered(api: Api, stack: Stack) -> None:
    signer = await register_signer(api.finance, "停用的系统")
    revoked = await api.finance.delete(f"/api/v1/integrations/keys/{signer.key_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked"]
    run = uuid.uuid4().hex
    value = intake_request(case_body(5209), request_id=f"revoked-{run}")

    await aproduce(stack.config.bootstrap, INTAKE_REQUESTS, [value], key=run.encode(), signer=signer)

    letters = await dead_letters(stack, run.encode(), 1)
    assert b"was revoked at" in letters[value]["dlq-reason"]
    assert letters[value][KEY_ID_HEADER] == signer.key_id.encode() and SIGNATURE_HEADER in letters[value]
    assert await api.cases_of(credit_code(5209)) == []
