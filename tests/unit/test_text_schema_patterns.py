"""The published JSON Schema patterns of text fields say what the validators refuse, and never refuse more."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from shared.contracts.cases import CreditCode
from shared.contracts.text import Line100, OptionalText500, Text500
from tests.support import credit_code


class Form(BaseModel):
    line: Line100 = "x"
    text: Text500 = "x"
    note: OptionalText500 = ""


SCHEMA = Form.model_json_schema()["properties"]
SAMPLES = [
    "格力电器",
    "a b",
    " 前后空格 ",
    "x",
    "tab\tinside",
    "two\nlines",
    "cr\r\n",
    "",
    "   ",
    "\t",
    "nul\x00",
    "bell\x07",
    "esc\x1b",
    "del\x7f",
    "c1\x85",
    "rlo\u202eevil",
    "isolate\u2066x",
    "\ufffe",
    "emoji 😀",
    "zero\u200bwidth",
]


def _accepted(field: str, value: str) -> bool:
    try:
        Form.model_validate({field: value})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("field", ["line", "text", "note"])
@pytest.mark.parametrize("value", SAMPLES, ids=[repr(s) for s in SAMPLES])
def test_what_a_text_field_accepts_matches_its_published_pattern(field: str, value: str) -> None:
    # The pattern describes the value as stored: leading and trailing whitespace is trimmed first.
    trimmed = value.strip()
    matches = re.search(SCHEMA[field]["pattern"], trimmed) is not None
    # A schema-valid value may still be refused for what a pattern cannot say (only invisible characters),
    # but a value the pattern refuses is always refused.
    assert matches or not _accepted(field, value), (field, value)
    controls = [ch for ch in trimmed if (ord(ch) < 0x20 and ch not in "\t\n\r") or 0x7F <= ord(ch) <= 0x9F]
    if controls or (field == "line" and any(ch in trimmed for ch in "\t\n\r")):
        assert not matches
    if not trimmed and field != "note":
        assert not matches


def test_the_credit_code_pattern_takes_valid_codes_and_refuses_impossible_authorities() -> None:
    class Holder(BaseModel):
        code: CreditCode

    pattern = Holder.model_json_schema()["properties"]["code"]["pattern"]
    assert all(re.fullmatch(pattern, credit_code(n)) for n in range(1, 500))
    for impossible in ("0" + credit_code(1)[1:], "Z" + credit_code(1)[1:], "94" + credit_code(1)[2:]):
        assert not re.fullmatch(pattern, impossible)
        with pytest.raises(ValidationError):
            Holder(code=impossible)


def test_amounts_public_keys_notice_prefixes_and_new_passwords_publish_what_is_refused() -> None:
    import base64
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from services.published import documents

    schemas = json.loads(documents()["openapi.json"])["components"]["schemas"]
    amount = schemas["PaymentReport"]["properties"]["amount"]["pattern"]
    assert [bool(re.search(amount, a)) for a in ("0", "0.00", "000", "0.01", "70000000.00", "1.234")] == [
        False,
        False,
        False,
        True,
        True,
        False,
    ]
    key = Ed25519PrivateKey.generate().public_key()
    raw = base64.b64encode(
        key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ).decode()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    public_key = schemas["RegisterKey"]["properties"]["public_key"]["pattern"]
    assert re.search(public_key, raw) and re.search(public_key, pem) and not re.search(public_key, "AAAA")
    prefix = schemas["PublishNotice"]["properties"]["number_prefix"]["anyOf"][0]["pattern"]
    assert re.search(prefix, "高新财金") and not re.search(prefix, "GX")
    assert schemas["CreateAccount"]["properties"]["password"]["anyOf"][0]["minLength"] == 12


def test_optional_bounded_numbers_dates_and_contact_subjects_publish_their_bounds() -> None:
    import json

    from services.published import documents

    doc = json.loads(documents()["openapi.json"])
    schemas = doc["components"]["schemas"]
    days = schemas["NewToken"]["properties"]["expires_in_days"]["anyOf"][0]
    assert (days["minimum"], days["maximum"]) == (1, 366)
    stuck = schemas["RulesBody"]["properties"]["stuck_escalate_after_workdays"]["anyOf"][0]
    assert (stuck["minimum"], stuck["maximum"]) == (1, 30)
    repaid_on = schemas["RepaymentReport"]["properties"]["repaid_on"]["pattern"]
    assert re.search(repaid_on, "2026-11-28") and not re.search(repaid_on, "0717-05-13")
    [subject] = [
        p for p in doc["paths"]["/api/v1/contacts/{subject}"]["get"]["parameters"] if p["in"] == "path"
    ]
    assert not re.search(subject["schema"]["pattern"], "enterprise:x:a\x99b")
    assert re.search(subject["schema"]["pattern"], "enterprise:x:张三")
