"""An Idempotency-Key is 1-128 visible characters (UTF-8): the same rule, and reason, on every write route.

Format characters (zero-width, bidi overrides) make two keys look alike or a log read reversed; a key made
only of them looks empty. Length is counted in characters as written, whatever their UTF-8 bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.intake.bootstrap import Overrides, build_app
from services.intake.settings import IntakeSettings
from shared.auth.keys import Role
from shared.eventstore.memory import InMemoryRecorder
from shared.idempotency import MAX_KEY_CHARACTERS
from tests.fakes import FakeApiKeys
from tests.support import case_body
from tests.unit.test_assignment_support import app_with

LENGTH = "须为 1-128 个字符且首尾无空白 / must be 1-128 characters, no leading or trailing blanks"
INVISIBLE = "不能只有不可见字符 / must not be made only of invisible characters"


def format_character(code: str) -> str:
    return (
        f"请求头含不可见的格式字符 {code}（零宽字符或双向控制符） / the header holds the invisible format "
        f"character {code} (zero-width or bidirectional control)"
    )


def intake_app() -> FastAPI:
    keys = FakeApiKeys({"finance-admin": ("finance", Role.ADMIN)})
    return build_app(IntakeSettings(), Overrides(recorder=InMemoryRecorder(), api_keys=keys))


def staff_body(n: int) -> dict[str, Any]:
    return {"name": f"王{n}", "post": "section_chief", "section": "预算科"}


# (app, path, body of the n-th distinct request): one route of the intake's own check, one of the shared one.
ROUTES: dict[str, tuple[Callable[[], FastAPI], str, Callable[[int], dict[str, Any]]]] = {
    "intake": (intake_app, "/api/v1/cases", case_body),
    "assignment": (lambda: app_with(InMemoryRecorder()), "/api/v1/staff", staff_body),
}


@pytest.fixture(params=sorted(ROUTES))
async def route(request: pytest.FixtureRequest) -> AsyncIterator[tuple[httpx.AsyncClient, str, Any]]:
    build, path, body = ROUTES[request.param]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build()), base_url="http://t") as http:
        yield http, path, body


async def _post(route: tuple[httpx.AsyncClient, str, Any], key: str, n: int = 1) -> httpx.Response:
    http, path, body = route
    headers = [(b"authorization", b"Bearer finance-admin"), (b"idempotency-key", key.encode())]
    return await http.post(path, json=body(n), headers=headers)


REFUSED = [
    ("\u200b", format_character("U+200B")),
    ("\u200b\u200b\u200b", format_character("U+200B")),
    ("key\u202egnp.exe", format_character("U+202E")),
    ("\ufeffkey", format_character("U+FEFF")),
    ("a\u2066b", format_character("U+2066")),
    ("\u3164", INVISIBLE),  # the Hangul filler: a letter that draws nothing
    ("\u0301\u0301", INVISIBLE),  # combining marks with nothing to mark
    ("k" * 129, LENGTH),
    ("k" * 10_000, LENGTH),
    ("键" * 129, LENGTH),
    ("\u3000", LENGTH),
    (" k", LENGTH),
]


@pytest.mark.parametrize(("key", "msg"), REFUSED, ids=[repr(k[:12]) for k, _ in REFUSED])
async def test_a_malformed_key_is_refused_with_the_reason(
    route: tuple[httpx.AsyncClient, str, Any], key: str, msg: str
) -> None:
    answer = await _post(route, key)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == [
        {"loc": ["header", "idempotency-key"], "msg": msg, "type": "value_error"}
    ]
    assert "512" not in answer.text


@pytest.mark.parametrize("key", ["k" * MAX_KEY_CHARACTERS, "键" * MAX_KEY_CHARACTERS, "来访-001", "a b"])
async def test_a_key_of_up_to_128_visible_characters_is_taken_and_a_retry_replays(
    route: tuple[httpx.AsyncClient, str, Any], key: str
) -> None:
    first = await _post(route, key)
    again = await _post(route, key)
    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.json() | {"replayed": None} == first.json() | {"replayed": None}  # intake says it replayed


async def test_a_reused_key_is_a_409_that_shows_the_key_only_escaped(
    route: tuple[httpx.AsyncClient, str, Any],
) -> None:
    key = "来访-\"001'"
    assert (await _post(route, key, 1)).status_code == 201
    reused = await _post(route, key, 2)
    assert reused.status_code == 409, reused.text
    detail = reused.json()["detail"]
    assert "Idempotency-Key" in detail
    # Either the key is not in the message at all, or only as its escaped repr, quotes and all.
    assert key not in detail.replace(repr(key), "")


def test_the_published_header_says_1_to_128_characters_on_every_write_route() -> None:
    for build, path, _ in ROUTES.values():
        [parameter] = [
            p
            for p in build().openapi()["paths"][path]["post"]["parameters"]
            if p["name"] == "idempotency-key"
        ]
        [text, _null] = parameter["schema"]["anyOf"]
        assert (text["minLength"], text["maxLength"]) == (1, MAX_KEY_CHARACTERS), parameter
