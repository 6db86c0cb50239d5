"""A JSON body naming a key twice is refused with the key named, on every service, whatever object holds it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.contracts.text import shown
from shared.http_body import CHECKED_BYTES, repeated_key
from shared.service import install_error_handlers

JSON = {"Content-Type": "application/json"}


def echo_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def things(body: dict[str, Any]) -> dict[str, Any]:
        return body

    return app


async def post(body: bytes | Any, headers: dict[str, str] = JSON) -> httpx.Response:
    transport = httpx.ASGITransport(app=echo_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.post("/things", content=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"allocated": "1", "allocated": "999"}', "allocated"),
        (b'{"enterprise": {"name": "a", "credit_code": "x", "name": "b"}}', "name"),
        (b'{"items": [{"amount": "1"}, {"amount": "2", "amount": "3"}]}', "amount"),
    ],
    ids=["top", "nested", "in-array"],
)
async def test_a_key_named_twice_is_refused_naming_it(body: bytes, key: str) -> None:
    answer = await post(body)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", key] and f"the key '{key}' appears more than once" in problem["msg"]


async def test_a_body_with_unique_keys_reaches_the_route_unchanged() -> None:
    body = {
        "enterprise": {"name": "格力"},
        "items": [{"amount": "1"}, {"amount": "2"}],
        "note": "同名不同层 name",
    }
    answer = await post(httpx.Request("POST", "/", json=body).content)
    assert answer.status_code == 200 and answer.json() == body


async def test_what_is_no_json_or_no_json_body_is_left_to_the_route() -> None:
    assert (await post(b'{"a": 1, "a": ')).status_code == 422  # the route's own parse error
    assert repeated_key(b"\xff\xfe") is None and repeated_key(b"[1, 2, 1]") is None
    form = await post(b"a=1&a=2", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert "appears more than once" not in form.text


async def test_a_body_past_the_checked_size_streams_on_unchecked() -> None:
    padding = "x" * (CHECKED_BYTES + 10)

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"note": "' + padding.encode() + b'", '
        yield b'"note": "again"}'

    answer = await post(chunks())
    assert answer.status_code == 200 and answer.json() == {"note": "again"}


async def test_nesting_past_the_parser_is_left_to_the_route_never_a_500() -> None:
    for body in (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, b"[" * 200_000):
        answer = await post(body)
        assert answer.status_code in (400, 422), answer.text


async def test_a_repeated_key_that_cannot_be_printed_or_is_huge_is_named_escaped_and_cut() -> None:
    surrogate = await post(b'{"\\ud800": 1, "\\ud800": 2}')
    assert surrogate.status_code == 422 and surrogate.json()["detail"][0]["loc"] == ["body", "\\ud800"]
    long_key = "k" * 500_000
    huge = await post(f'{{"{long_key}": 1, "{long_key}": 2}}'.encode())
    assert huge.status_code == 422 and len(huge.content) < 2_000


def test_a_value_named_in_an_answer_is_cut_and_printable() -> None:
    assert shown("a" * 500_000) == "a" * 100 + "…"
    assert shown('"\ud800\x00') == '"\\ud800\\u0000'
