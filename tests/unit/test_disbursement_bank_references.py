"""A bank transfer's reference (银行流水号) credits one disbursement of a bureau, whichever payment comes first."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.disbursement.adapters.bank_references import MemoryBankReferences
from services.disbursement.application import bank_references, commands
from services.disbursement.application.commands import Context, Outcome
from services.disbursement.bootstrap import Overrides, build_app
from services.disbursement.domain import rules
from services.disbursement.domain.rules import Refused
from services.disbursement.settings import DisbursementSettings
from shared.auth.keys import Role
from shared.contracts.disbursement import OpenDisbursementRequest, PaymentReport
from shared.contracts.envelope import Actor
from shared.eventstore.memory import InMemoryRecorder
from shared.eventstore.recorder import AppendResult, ConcurrencyError, NewEvent, Recording
from tests.fakes import FakeApiKeys
from tests.support import credit_code
from tests.unit.test_disbursement_http import Bureaus, opening

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def context(bureau: str = "finance") -> Context:
    return Context(
        bureau=bureau,
        actor=Actor(kind="integration", id="treasury", bureau=bureau),
        command_id=f"c-{uuid.uuid4()}",
        correlation_id=uuid.uuid4(),
        reported_by="国库集中支付系统",
        now=NOW,
    )


async def open_one(recorder: InMemoryRecorder, n: int, bureau: str = "finance") -> str:
    request = OpenDisbursementRequest.model_validate(
        {
            "enterprise": {"name": f"企业{n}", "credit_code": credit_code(n)},
            "source": "市财政局",
            "fund_type": "subsidy",
            "allocated": "100.00",
        }
    )
    return (await commands.open_disbursement(request, context(bureau), recorder=recorder)).id


def payment(reference: str = "ICBC-0001", amount: str = "10.00") -> PaymentReport:
    return PaymentReport(amount=amount, credited_at=NOW, bank_reference=reference)


async def pay(
    recorder: InMemoryRecorder,
    claims: MemoryBankReferences,
    disbursement_id: str,
    report: PaymentReport,
    **kw: Any,
) -> Outcome:
    return await commands.record_payment(
        disbursement_id, report, context(**kw), recorder=recorder, references=claims
    )


async def test_a_reference_another_disbursement_of_the_bureau_holds_is_refused_naming_it() -> None:
    recorder, claims = InMemoryRecorder(), MemoryBankReferences()
    first, second = await open_one(recorder, 1), await open_one(recorder, 2)
    await pay(recorder, claims, first, payment())
    with pytest.raises(Refused) as caught:
        await pay(recorder, claims, second, payment())
    assert caught.value.rule == rules.ONE_CREDIT_PER_BANK_REFERENCE
    assert first in caught.value.reason and "ICBC-0001" in caught.value.reason
    assert len(await recorder.read_stream(f"disbursement-{second}")) == 1
    await pay(recorder, claims, second, payment("ICBC-0002"))  # another reference is credited


async def test_another_bureau_may_credit_the_same_reference() -> None:
    recorder, claims = InMemoryRecorder(), MemoryBankReferences()
    ours, theirs = await open_one(recorder, 1), await open_one(recorder, 2, bureau="innovation")
    await pay(recorder, claims, ours, payment())
    await pay(recorder, claims, theirs, payment(), bureau="innovation")


async def test_two_payments_with_one_reference_at_the_same_moment_credit_one_disbursement() -> None:
    recorder, claims = InMemoryRecorder(), MemoryBankReferences()
    ids = [await open_one(recorder, n) for n in (1, 2, 3)]
    results = await asyncio.gather(
        *(pay(recorder, claims, i, payment()) for i in ids), return_exceptions=True
    )
    assert [isinstance(r, Outcome) for r in results].count(True) == 1
    assert all(isinstance(r, Refused) for r in results if not isinstance(r, Outcome))


async def test_a_refused_payment_leaves_the_reference_free() -> None:
    recorder, claims = InMemoryRecorder(), MemoryBankReferences()
    first, second = await open_one(recorder, 1), await open_one(recorder, 2)
    with pytest.raises(Refused):
        await pay(recorder, claims, first, payment(amount="100.01"))  # refused by the aggregate
    with pytest.raises(commands.NotFound):
        await pay(recorder, claims, "no-such-disbursement", payment())
    await pay(recorder, claims, second, payment())


async def test_a_claim_is_released_when_the_append_after_it_fails() -> None:
    recorder, claims = InMemoryRecorder(), MemoryBankReferences()
    first, second = await open_one(recorder, 1), await open_one(recorder, 2)
    with pytest.raises(RuntimeError):
        async with bank_references.bank_reference_claimed(
            claims, recorder, bureau="finance", reference="ICBC-0001", disbursement_id=first, command_id="c-x"
        ):
            raise RuntimeError("the append failed")
    await pay(recorder, claims, second, payment())


async def test_a_claim_left_without_its_payment_passes_on_once_old(monkeypatch: pytest.MonkeyPatch) -> None:
    # A crash between the claim and the append leaves a claim naming a disbursement that holds no such payment.
    recorder, claims = InMemoryRecorder(), MemoryBankReferences()
    left, taker = await open_one(recorder, 1), await open_one(recorder, 2)
    await claims.claim("finance", "ICBC-0001", left)
    with pytest.raises(Refused):  # fresh: its payment may still be on its way
        await pay(recorder, claims, taker, payment())
    monkeypatch.setattr(bank_references, "ORPHANED_AFTER", timedelta(seconds=-1))
    await pay(recorder, claims, taker, payment())
    with pytest.raises(Refused) as caught:
        await pay(recorder, claims, left, payment())
    assert taker in caught.value.reason


class AlwaysRaced(InMemoryRecorder):
    """A store where another report always appends first: every payment append loses."""

    async def append(self, recording: Recording, events: Sequence[NewEvent]) -> AppendResult:
        if recording.expected_version > 0:
            raise ConcurrencyError(recording.stream_id, recording.expected_version)
        return await super().append(recording, events)


async def test_a_claim_is_released_when_every_attempt_to_append_lost_the_race() -> None:
    recorder, claims = AlwaysRaced(), MemoryBankReferences()
    first = await open_one(recorder, 1)
    with pytest.raises(ConcurrencyError):
        await pay(recorder, claims, first, payment())
    assert await claims.claim("finance", "ICBC-0001", "another") == ("another", True)


class RepeatLandsFirst(InMemoryRecorder):
    """A store where another report of the same transfer to the same disbursement appends just before ours."""

    def __init__(self) -> None:
        super().__init__()
        self.repeat: Any = None  # the other report, run once inside our first payment append

    async def append(self, recording: Recording, events: Sequence[NewEvent]) -> AppendResult:
        if self.repeat is not None and recording.expected_version > 0:
            repeat, self.repeat = self.repeat, None
            await repeat()
        return await super().append(recording, events)


async def test_a_claim_stays_when_a_repeat_of_the_same_transfer_was_credited_first() -> None:
    recorder, claims = RepeatLandsFirst(), MemoryBankReferences()
    first, other = await open_one(recorder, 1), await open_one(recorder, 2)
    recorder.repeat = lambda: pay(recorder, claims, first, payment())
    with pytest.raises(Refused):  # ours is then refused as the repeat it is
        await pay(recorder, claims, first, payment())
    with pytest.raises(Refused) as caught:  # and the reference still belongs to the first disbursement
        await pay(recorder, claims, other, payment())
    assert first in caught.value.reason


ADMIN = {"Authorization": "Bearer admin"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    db: Any = None  # the routes under test read the event store only
    keys = FakeApiKeys({"admin": ("finance", Role.ADMIN)})
    overrides = Overrides(recorder=InMemoryRecorder(), api_keys=keys, db=db, bureaus=Bureaus())
    app = build_app(DisbursementSettings(), overrides)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def test_over_http_the_second_disbursement_crediting_a_reference_is_409_naming_the_first(
    client: httpx.AsyncClient,
) -> None:
    ids = []
    for n in (1, 2):
        opened = await client.post(
            "/api/v1/disbursements", json=opening(enterprise=enterprise(n)), headers=ADMIN
        )
        ids.append(opened.json()["id"])
    body = {"amount": "10.00", "credited_at": "2026-10-13T10:00:00+08:00", "bank_reference": "ICBC-0001"}
    first = await client.post(f"/api/v1/disbursements/{ids[0]}/payments", json=body, headers=ADMIN)
    second = await client.post(f"/api/v1/disbursements/{ids[1]}/payments", json=body, headers=ADMIN)
    assert first.status_code == 201, first.text
    assert second.status_code == 409 and "OneCreditPerBankReference" in second.text and ids[0] in second.text


def enterprise(n: int) -> dict[str, str]:
    return {"name": f"企业{n}", "credit_code": credit_code(n)}


# What the outside trial credited to a second disbursement after `BR-1` (case, a zero-width space, full width),
# and kin: a hyphen (U+2010), an en dash, a minus sign, a full-width hyphen-minus, a word joiner inside.
BR_1_RESPELLED = [
    "br-1",
    "BR-1\u200b",
    "ＢＲ-1",
    "BR\u20101",
    "BR\u20131",
    "BR\u22121",
    "BR\uff0d1",
    "B\u2060R-1",
    # The second trial: variation selectors, the grapheme joiner, Hangul fillers, the braille blank, Mongolian
    # and Khmer invisibles, dash look-alikes that are not Pd, a no-break space.
    "BR-1\ufe0f",
    "BR-1\U000e0100",
    "B\u034fR-1",
    "BR\u3164-1",
    "BR-1\u2800",
    "BR\u180b-1",
    "BR\u02d71",
    "BR\u20431",
    "BR\u27961",
    "BR\u00a0-1",
]


@pytest.mark.parametrize("respelled", BR_1_RESPELLED, ids=ascii)
async def test_a_reference_spelled_another_way_is_the_one_another_disbursement_holds(respelled: str) -> None:
    recorder, claims = InMemoryRecorder(), MemoryBankReferences()
    first, second = await open_one(recorder, 1), await open_one(recorder, 2)
    await pay(recorder, claims, first, payment("BR-1"))
    with pytest.raises(Refused) as caught:
        await pay(recorder, claims, second, payment(respelled))
    assert caught.value.rule == rules.ONE_CREDIT_PER_BANK_REFERENCE and first in caught.value.reason
    assert "(as BR-1)" in caught.value.reason  # the spelling recorded first
    assert len(await recorder.read_stream(f"disbursement-{second}")) == 1


@pytest.mark.parametrize("respelled", BR_1_RESPELLED, ids=ascii)
async def test_a_reference_spelled_another_way_is_not_credited_twice_to_one_disbursement(
    respelled: str,
) -> None:
    recorder, claims = InMemoryRecorder(), MemoryBankReferences()
    first = await open_one(recorder, 1)
    await pay(recorder, claims, first, payment("BR-1"))
    with pytest.raises(Refused) as caught:
        await pay(recorder, claims, first, payment(respelled))
    assert caught.value.rule == rules.ONE_CREDIT_PER_BANK_REFERENCE and "(as BR-1)" in caught.value.reason
    stream = await recorder.read_stream(f"disbursement-{first}")
    assert len(stream) == 2 and stream[1].data["bank_reference"] == "BR-1"  # kept as it was given


async def test_an_old_claim_passes_on_only_when_its_holder_holds_no_payment_of_any_spelling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder, claims = InMemoryRecorder(), MemoryBankReferences()
    first, second = await open_one(recorder, 1), await open_one(recorder, 2)
    await pay(recorder, claims, first, payment("BR-1"))
    monkeypatch.setattr(bank_references, "ORPHANED_AFTER", timedelta(seconds=-1))  # every claim is "old"
    with pytest.raises(Refused):  # the holder's payment is `BR-1`: the claim is no orphan for `br-1`
        await pay(recorder, claims, second, payment("br-1"))
