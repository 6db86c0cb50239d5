"""The assignment API's request bodies are strict and bounded: lax or absurd input is refused with the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from services.assignment.entrypoints import http_models as m
from tests.support import credit_code

STAFF_ID = "0f1e5b8a-3a52-4bb8-8f0e-6c4e7d2f9a10"
VALID: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (m.AddStaff, {"name": "张三", "post": "section_chief", "section": "预算科"}),
    (m.RecordLeave, {"first_day": "2026-10-08", "last_day": "2026-10-09", "reason": "年假"}),
    (m.ApproveFallback, {"credit_code": credit_code(1), "staff_id": STAFF_ID, "approved_by": STAFF_ID}),
    (m.Reassign, {"credit_code": credit_code(1), "to_staff_id": STAFF_ID, "reason": "工作调整"}),
    (m.Clarify, {"summary": "补贴未到账", "sections": ["国库科"]}),
    (m.OpenTask, {"section": "国库科", "description": "审核", "working_days": 3}),
    (m.Resolve, {"summary": "已到账", "settlement_intent": True}),
    (m.Rating, {"rating": 5, "comment": ""}),
]


def test_a_number_without_a_fraction_is_the_integer_json_schema_says_it_is() -> None:
    assert m.Rating.model_validate_json('{"rating": 5.0}').rating == 5
    assert (
        m.OpenTask.model_validate_json(
            '{"section": "国库科", "description": "审核", "working_days": 3.0}'
        ).working_days
        == 3
    )


@pytest.mark.parametrize(("model", "body"), VALID, ids=[m.__name__ for m, _ in VALID])
def test_ordinary_bodies_are_accepted(model: type[BaseModel], body: dict[str, Any]) -> None:
    model.model_validate_json(json.dumps(body))


REFUSED: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (m.Clarify, {"summary": "s", "sections": [""]}, "sections"),
    (m.Clarify, {"summary": "s", "sections": ["科" * 100_000] * 10}, "sections"),
    (m.Clarify, {"summary": "s", "sections": ["国库科"] * 21}, "sections"),
    (m.Clarify, {"summary": "s", "sections": "国库科"}, "sections"),
    (m.OpenTask, {"section": "国库科", "description": "d", "working_days": "3"}, "working_days"),
    (m.OpenTask, {"section": "国库科", "description": "d", "working_days": True}, "working_days"),
    (m.OpenTask, {"section": "国库科", "description": "d", "working_days": 61}, "working_days"),
    (m.OpenTask, {"section": "国库科", "description": "d", "working_days": 2**70}, "working_days"),
    (m.OpenTask, {"section": "国\x00库科", "description": "d", "working_days": 3}, "section"),
    (m.Resolve, {"summary": "s", "settlement_intent": "yes"}, "settlement_intent"),
    (m.Resolve, {"summary": "s", "settlement_intent": 1}, "settlement_intent"),
    (m.Rating, {"rating": "5"}, "rating"),
    (m.Rating, {"rating": 4.5}, "rating"),
    (m.Rating, {"rating": True}, "rating"),
    (m.AddStaff, {"name": "  ", "post": "section_chief", "section": "预算科"}, "name"),
    (m.AddStaff, {"name": "张\x1b三", "post": "section_chief", "section": "预算科"}, "name"),
    (m.RecordLeave, {"first_day": "0001-01-01", "last_day": "2026-10-09", "reason": "r"}, "first_day"),
    (m.RecordLeave, {"first_day": "2026-10-08", "last_day": "9999-12-31", "reason": "r"}, "last_day"),
    (
        m.RecordLeave,
        {"first_day": "2026-10-08", "last_day": "2026-10-09", "reason": "r", "deputy_staff_id": "a:b"},
        "deputy_staff_id",
    ),
    (
        m.ApproveFallback,
        {"credit_code": "000000000000000000", "staff_id": "s", "approved_by": "d"},
        "credit_code",
    ),
    (
        m.ApproveFallback,
        {"credit_code": credit_code(1), "staff_id": "s/../x", "approved_by": "d"},
        "staff_id",
    ),
    (m.Reassign, {"credit_code": credit_code(1), "to_staff_id": "s", "reason": "r" * 501}, "reason"),
    (m.Note, {"note": "催办\x00"}, "note"),
    (m.Policy, {"policy": "p", "note": None}, "note"),
]


@pytest.mark.parametrize(
    ("model", "body", "field"), REFUSED, ids=[f"{m.__name__}-{f}-{i}" for i, (m, _, f) in enumerate(REFUSED)]
)
def test_lax_or_absurd_bodies_are_refused_naming_the_field(
    model: type[BaseModel], body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate_json(json.dumps(body))
    assert field in {str(part) for e in refused.value.errors() for part in e["loc"]}


def test_the_limits_show_in_the_json_schema() -> None:
    schema = m.Clarify.model_json_schema()
    assert schema["properties"]["sections"]["maxItems"] == m.MAX_SECTIONS
    assert schema["properties"]["sections"]["items"]["maxLength"] == 50
    task = m.OpenTask.model_json_schema()["properties"]["working_days"]
    assert (task["minimum"], task["maximum"]) == (1, 60)
