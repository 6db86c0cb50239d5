"""Policy: the enterprise is told when money reaches its account (资金到账), payment by payment."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notification.application.intents import Intent, enterprise_subject
from shared.contracts.disbursement import DisbursementOpened, DisbursementPaymentCredited
from shared.contracts.envelope import EventEnvelope
from shared.workdays.calendar import SHANGHAI

MONEY = "notification_disbursements"
MONEY_SETTINGS = "notification_money_settings"  # each bureau's "stuck after N working days", from its events
FUND_NAMES = {
    "subsidy": "补贴资金",
    "rent_subsidy": "房租补贴",
    "renovation_subsidy": "装修补贴",
    "award": "奖励资金",
    "arrears_repayment": "清欠款项",
    "refund": "退付款项",
    "other": "拨付资金",
}


def yuan(amount: Decimal | str) -> str:
    """Return an amount as a finance office writes it: 70,000,000.00."""
    return f"{Decimal(str(amount)):,.2f}"


class Disbursements:
    """Which enterprise each disbursement pays (later events of its stream do not repeat it)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._c = db[MONEY]
        self._settings = db[MONEY_SETTINGS]

    async def stuck_after(self, bureau: str, default: int) -> int:
        """Return the bureau's "stuck after N working days" as its last settings event said (else the default)."""
        doc = await self._settings.find_one({"_id": bureau})
        return int(doc["stuck_after_workdays"]) if doc else default

    async def set_stuck_after(self, bureau: str, workdays: int, version: int) -> bool:
        """Keep a bureau's setting as of its stream version; False for a replayed older event."""
        try:
            result = await self._settings.update_one(
                {"_id": bureau, "v": {"$lt": version}},
                {"$set": {"stuck_after_workdays": workdays, "v": version}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return result.modified_count > 0 or result.upserted_id is not None

    async def learn(self, opened: DisbursementOpened, env: EventEnvelope) -> None:
        """Remember the enterprise and the fund of a disbursement (once: an opening never changes)."""
        doc = {
            "_id": opened.disbursement_id,
            "bureau": env.bureau,
            "credit_code": opened.enterprise.credit_code,
            "enterprise_name": opened.enterprise.name,
            "fund_type": opened.fund_type.value,
            "policy_reference": opened.policy_reference,
            "case_id": opened.case_id,
        }
        try:
            await self._c.insert_one(doc)
        except DuplicateKeyError:
            pass

    async def get(self, disbursement_id: str) -> dict[str, Any] | None:
        """Return what is known of a disbursement."""
        return await self._c.find_one({"_id": disbursement_id})


def tell_the_enterprise_when_money_is_credited(
    e: DisbursementPaymentCredited, env: EventEnvelope, known: dict[str, Any]
) -> list[Intent]:
    """A payment credited to the account tells the enterprise's contact which money it is (the disbursement,
    the payment and its bank reference), the amount and the time (资金到账)."""
    at: datetime = e.credited_at
    variables = {
        "enterprise_name": known["enterprise_name"],
        "fund_name": FUND_NAMES.get(known["fund_type"], "拨付资金"),
        "amount": yuan(e.amount),
        "credited_at": at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        # Two payments of the same amount must read apart: which disbursement (and the policy it pays under,
        # when its opening named one; disbursements learned before it was kept have none), which payment.
        "disbursement_id": e.disbursement_id,
        "policy_reference": known.get("policy_reference") or "",
        "payment_id": e.payment_id,
        "bank_reference": e.bank_reference.strip(),
    }
    recipient = enterprise_subject(env.bureau, known["credit_code"])
    return [
        Intent(str(env.event_id), env.bureau, known.get("case_id"), recipient, "money_credited", variables)
    ]
