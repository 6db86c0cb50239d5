"""Text fields refuse what their published pattern refuses, even at the ends that trimming would remove.

Python's strip() takes control characters (U+000B, U+000C, U+001C-U+001F, U+0085, and tabs and line breaks)
with the spaces: a value the OpenAPI pattern forbids must not be stored trimmed instead of refused.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from services.assignment.entrypoints.http_models import AddStaff
from shared.contracts.text import read_stored
from shared.eventstore.memory import InMemoryRecorder
from tests.unit.test_assignment_support import app_with, auth
from tests.unit.test_text_schema_patterns import SCHEMA, Form, _accepted

ADMIN = auth("finance-admin")
# What the outside trial sent as a section (each answered 201, stored without the control character).
TRIAL = ["科\u000b", "\u000b科", "科\u0085", "Þ\u000b"]
# Every character strip() takes that is a control character: each at either end of a value.
STRIPPED_CONTROLS = [chr(c) for c in range(0xA0) if chr(c).isspace() and (c < 0x20 or c >= 0x7F)]
# The line and paragraph separators: strip() takes them too, and a line must not hold them anywhere.
SEPARATORS = ["\u2028", "\u2029"]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_with(InMemoryRecorder()))
    async with httpx.AsyncClient(transport=transport, base_url="http://assignment") as client:
        yield client


@pytest.mark.parametrize("section", TRIAL, ids=[repr(s) for s in TRIAL])
async def test_a_section_with_a_control_character_at_an_end_is_refused_with_the_reason(
    http: httpx.AsyncClient, section: str
) -> None:
    answer = await http.post(
        "/api/v1/staff", json={"name": "王五", "post": "section_chief", "section": section}, headers=ADMIN
    )
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "section"]
    code = f"U+{ord(section.strip('科Þ')):04X}"
    assert problem["msg"] == f"文本含控制字符 {code} / text holds the control character {code}"
    roster = await http.get("/api/v1/staff", headers=ADMIN)
    assert roster.status_code == 200 and roster.json() == [], roster.text


async def test_spaces_around_a_section_are_still_trimmed(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "/api/v1/staff",
        json={"name": " 王五 ", "post": "section_chief", "section": "\u3000预算科 "},
        headers=ADMIN,
    )
    assert answer.status_code == 201, answer.text
    [card] = (await http.get("/api/v1/staff", headers=ADMIN)).json()
    assert (card["name"], card["section"]) == ("王五", "预算科")


@pytest.mark.parametrize("field", ["line", "text", "note"])
@pytest.mark.parametrize("control", STRIPPED_CONTROLS, ids=[f"U+{ord(c):04X}" for c in STRIPPED_CONTROLS])
@pytest.mark.parametrize("shape", ["{}科", "科{}", "{}"])
def test_a_value_is_accepted_as_sent_exactly_when_its_published_pattern_matches_it(
    field: str, control: str, shape: str
) -> None:
    value = shape.format(control)
    matches = re.search(SCHEMA[field]["pattern"], value) is not None
    assert _accepted(field, value) == matches, (field, value, matches)
    # Tabs and line breaks are free text's own; only a line refuses them (and a blank value is no text).
    if field != "line" and control in "\t\n\r":
        assert matches == (shape != "{}" or field == "note")
    else:
        assert not matches


def test_the_stripped_controls_are_those_the_trial_found_and_more() -> None:
    assert {"\x0b", "\x85", "\x0c", "\x1c", "\x1f", "\t", "\n", "\r"} <= set(STRIPPED_CONTROLS)


def test_a_new_staff_member_is_refused_in_the_model_too() -> None:
    with pytest.raises(ValidationError, match="U\\+000B"):
        AddStaff.model_validate({"name": "王五", "post": "section_chief", "section": "科\u000b"})


def _separator_reason(ch: str) -> str:
    code = f"U+{ord(ch):04X}"
    return (
        f"文本含行或段落分隔符 {code}，请用普通换行 / text holds the line or paragraph separator {code}: "
        "use an ordinary line break where one is allowed"
    )


@pytest.mark.parametrize("separator", SEPARATORS, ids=["U+2028", "U+2029"])
@pytest.mark.parametrize("field,value", [("name", "王{}五"), ("name", "王五{}"), ("section", "{}预算科")])
async def test_a_line_or_paragraph_separator_in_a_one_line_field_is_refused_with_the_reason(
    http: httpx.AsyncClient, separator: str, field: str, value: str
) -> None:
    body = {"name": "王五", "post": "section_chief", "section": "预算科"} | {field: value.format(separator)}

    answer = await http.post("/api/v1/staff", json=body, headers=ADMIN)

    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", field] and problem["msg"] == _separator_reason(separator)
    assert (await http.get("/api/v1/staff", headers=ADMIN)).json() == []


@pytest.mark.parametrize("field", ["line", "text", "note"])
@pytest.mark.parametrize("separator", SEPARATORS, ids=["U+2028", "U+2029"])
@pytest.mark.parametrize("shape", ["{}科", "科{}", "{}", "科{}目", "甲{}乙\n丙"])
def test_a_separator_is_refused_everywhere_and_the_published_pattern_agrees(
    field: str, separator: str, shape: str
) -> None:
    value = shape.format(separator)
    # Free text breaks lines with \n alone: the separators are refused there too, at the ends and inside.
    assert re.search(SCHEMA[field]["pattern"], value) is None, (field, value)
    with pytest.raises(ValidationError) as refused:
        Form.model_validate({field: value})
    assert _separator_reason(separator) in str(refused.value)


def test_a_stored_event_with_a_separator_stays_readable() -> None:
    # Events are immutable: what was accepted before the separators were refused must still be read.
    stored = read_stored(Form, {"line": "王\u2028五", "text": "甲\u2029乙", "note": "丙\u2028丁"})

    assert (stored.line, stored.text, stored.note) == ("王\u2028五", "甲\u2029乙", "丙\u2028丁")
