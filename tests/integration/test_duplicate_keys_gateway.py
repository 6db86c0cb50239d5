"""Through the gateway, a body naming a key twice is refused naming it, and nothing is recorded: the amount a
clerk's tool shows is never silently replaced by a second copy the parser kept."""

from __future__ import annotations

import json

import pytest

from tests.api import Api
from tests.support import case_body, credit_code

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}


async def test_a_disbursement_naming_its_amount_twice_is_refused_and_not_opened(api: Api) -> None:
    code = credit_code(8_463)
    shown = {
        "enterprise": {"name": "格力电器(郑州)有限公司", "credit_code": code},
        "source": "市财政局",
        "fund_type": "subsidy",
        "allocated": "1.00",
    }
    body = json.dumps(shown, ensure_ascii=False)[:-1] + ', "allocated": "999999.00"}'
    answer = await api.finance.post("/api/v1/disbursements", content=body.encode(), headers=JSON)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "allocated"]
    listed = await api.finance.get("/api/v1/disbursements", params={"enterprise": code})
    assert listed.status_code == 200 and listed.json()["items"] == []


async def test_a_case_naming_its_enterprise_code_twice_is_refused(api: Api) -> None:
    body = json.dumps(case_body(8_464), ensure_ascii=False).replace(
        '"credit_code": ', f'"credit_code": "{credit_code(8_465)}", "credit_code": ', 1
    )
    answer = await api.finance.post("/api/v1/cases", content=body.encode(), headers=JSON)
    assert answer.status_code == 422, answer.text
    assert "credit_code" in answer.text and "appears more than once" in answer.text
