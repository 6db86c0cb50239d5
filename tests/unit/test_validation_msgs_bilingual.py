"""Pydantic's own 422 msgs read Chinese first, pydantic's English kept after " / " (shared.service)."""

from __future__ import annotations

from typing import Annotated, Literal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.contracts.text import Line20
from shared.service import bilingual_validation_msg, install_error_handlers


def _refuse_x(value: str) -> str:
    if value == "x":
        raise ValueError("不能为 x / must not be x")
    return value


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=5)
    code: str = Field(default="ab", pattern=r"^[a-z]+$")
    count: int = Field(default=1, ge=1)
    kind: Literal["a", "b"] = "a"
    note: Annotated[str, AfterValidator(_refuse_x)] = ""
    title: Line20 = "t"


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def post(body: Body) -> dict[str, str]:
        return {}

    return app


async def _problems(**request: object) -> dict[str, dict[str, str]]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/things", **request)  # type: ignore[arg-type]
    assert answer.status_code == 422, answer.text
    return {"/".join(map(str, p["loc"])): p for p in answer.json()["detail"]}


async def test_missing_too_long_pattern_extra_and_range_read_chinese_first() -> None:
    missing = await _problems(json={})
    assert missing["body/name"] == {
        "loc": ["body", "name"],
        "msg": "字段必填 / Field required",
        "type": "missing",
    }

    bad = {"name": "abcdef", "code": "AB", "count": 0, "kind": "c", "colour": "red"}
    problems = await _problems(json=bad)
    assert {k: p["msg"] for k, p in problems.items()} == {
        "body/name": "长度不得超过 5 个字符 / String should have at most 5 characters",
        "body/code": "格式不符合要求 / String should match pattern '^[a-z]+$'",
        "body/count": "须大于或等于 1 / Input should be greater than or equal to 1",
        "body/kind": "须为以下值之一：'a'、'b' / Input should be 'a' or 'b'",
        "body/colour": "不接受此字段 / Extra inputs are not permitted",
    }
    assert {p["type"] for p in problems.values()} == {
        "string_too_long",
        "string_pattern_mismatch",
        "greater_than_equal",
        "literal_error",
        "extra_forbidden",
    }


async def test_malformed_json_and_wrong_types_read_chinese_first() -> None:
    broken = await _problems(content=b'{"name": ', headers={"content-type": "application/json"})
    [(_, problem)] = broken.items()
    assert problem["type"] == "json_invalid" and problem["msg"] == "JSON 格式无效 / JSON decode error"

    typed = await _problems(json={"name": 5, "count": "many"})
    assert typed["body/name"]["msg"] == "须为字符串 / Input should be a valid string"
    assert typed["body/count"]["msg"].startswith("须为整数 / Input should be a valid integer")


async def test_our_validators_bilingual_refusals_are_not_prefixed_twice() -> None:
    problems = await _problems(json={"name": "n", "note": "x", "title": "a\x07b"})
    assert problems["body/note"]["msg"] == "不能为 x / must not be x"  # pydantic's "Value error, " dropped
    assert problems["body/title"]["msg"].count(" / ") == 1
    assert "文本含控制字符 U+0007 / text holds the control character U+0007" in problems["body/title"]["msg"]


@pytest.mark.parametrize(
    ("kind", "msg", "ctx", "expected"),
    [
        (
            "too_long",
            "List should have at most 2 items after validation, not 3",
            {"max_length": 2},
            "最多 2 项",
        ),
        (
            "string_too_short",
            "String should have at least 1 character",
            {"min_length": 1},
            "长度至少为 1 个字符",
        ),
        ("less_than_equal", "Input should be less than or equal to 60", {"le": 60}, "须小于或等于 60"),
        ("uuid_parsing", "Input should be a valid UUID, invalid length", None, "须为有效的 UUID"),
        ("something_new", "Something pydantic adds later", None, "输入无效"),
        ("value_error", "Value error, value is not a valid email address", None, "输入无效"),
        ("greater_than", "Input should be greater than 0", None, "输入无效"),  # no ctx: no number to say
    ],
)
def test_each_type_gets_its_chinese_and_keeps_the_english(
    kind: str, msg: str, ctx: dict[str, object] | None, expected: str
) -> None:
    assert bilingual_validation_msg(kind, msg, ctx) == f"{expected} / {msg}"


def test_chinese_inside_pydantics_english_is_still_translated() -> None:
    # An enum of Chinese values: the msg holds Chinese, yet nothing in it is said in Chinese.
    msg = bilingual_validation_msg(
        "enum", "Input should be '财政' or '金融'", {"expected": "'财政' or '金融'"}
    )
    assert msg == "须为以下值之一：'财政'、'金融' / Input should be '财政' or '金融'"
    assert bilingual_validation_msg("missing", "字段必填 / Field required") == "字段必填 / Field required"
