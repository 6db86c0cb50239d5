"""A bank transfer's reference (银行流水号) credits one disbursement of a bureau, claimed before the append.

Why a claim and not a look at the other disbursements: the aggregate sees only its own stream, and two payments
with one reference to two disbursements can be decided at the same moment. The claim (a document keyed by
bureau and reference, adapters/bank_references.py) is inserted first, so one of them wins; the claim of a payment
that is then refused is released. A claim left by a crash between the claim and the append names a
disbursement that holds no such payment: after ORPHANED_AFTER it passes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from services.disbursement.adapters.bank_references import BankReferences
from services.disbursement.domain import rules
from services.disbursement.domain.references import same_reference, spelled_as
from services.disbursement.domain.rules import Refused
from services.disbursement.domain.streams import disbursement_stream, fold_disbursement
from shared.eventstore.recorder import EventRecorder

# Longer than any payment takes to be decided and appended: a claim this old with no payment behind it was left.
ORPHANED_AFTER = timedelta(minutes=2)


async def _spelling_credited_by(recorder: EventRecorder, disbursement_id: str, reference: str) -> str | None:
    """Return the reference as the disbursement's payment spelled it, or None when it credited no such one."""
    d = fold_disbursement(await recorder.read_stream(disbursement_stream(disbursement_id)))
    payments = d.payments if d is not None else []
    return next(
        (p.event.bank_reference for p in payments if same_reference(p.event.bank_reference, reference)), None
    )


async def _credited_by(recorder: EventRecorder, disbursement_id: str, reference: str) -> bool:
    return await _spelling_credited_by(recorder, disbursement_id, reference) is not None


async def a_bank_reference_credits_one_disbursement_of_a_bureau(
    references: BankReferences,
    recorder: EventRecorder,
    *,
    bureau: str,
    reference: str,
    disbursement_id: str,
    command_id: str,
) -> bool:
    """Claim the reference for the disbursement, refusing one another disbursement holds; True: a new claim."""
    holder, new = await references.claim(bureau, reference, disbursement_id)
    if holder == disbursement_id:
        return new
    if await recorder.command_events(command_id):
        return False  # recorded before: the stream answers its replay (or a request id reused), not the claim
    spelled = await _spelling_credited_by(recorder, holder, reference)
    if spelled is not None or not await references.take_over(
        bureau, reference, holder, disbursement_id, ORPHANED_AFTER
    ):
        raise Refused(
            rules.ONE_CREDIT_PER_BANK_REFERENCE,
            f"该银行流水号已登记于另一笔拨付 {holder} / bank reference {reference}{spelled_as(spelled, reference)} is"
            f" already credited to disbursement {holder}",
        )
    return True


@asynccontextmanager
async def bank_reference_claimed(
    references: BankReferences,
    recorder: EventRecorder,
    *,
    bureau: str,
    reference: str,
    disbursement_id: str,
    command_id: str,
) -> AsyncIterator[None]:
    """Hold the claim while the payment is decided; a refused payment (or one that fails) claims nothing."""
    new = await a_bank_reference_credits_one_disbursement_of_a_bureau(
        references,
        recorder,
        bureau=bureau,
        reference=reference,
        disbursement_id=disbursement_id,
        command_id=command_id,
    )
    try:
        yield
    except BaseException:
        # Not if the disbursement holds such a payment by now: a concurrent report of the same transfer to it
        # was appended first (this one then refused as its repeat), and the claim is that payment's.
        if new and not await _credited_by(recorder, disbursement_id, reference):
            await references.release(bureau, reference, disbursement_id)
        raise
