"""The Allow of a 405 names the methods of the documented path that matches best: a literal beats a template."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from services.gateway.methods import (
    HTTP_METHODS,
    allowed_methods,
    documented_path,
    documented_paths,
    published_openapi,
)
from tests.unit.test_gateway_forwarding import KEY, gateway, ok

OVERLAPPING: dict[str, Any] = {
    "paths": {
        "/a/{x}/b": {"get": {}},
        "/a/c/{y}": {"put": {}},
        "/a/{x}/{z}": {"delete": {}},
        "/n/{id}/doc.{kind}": {"get": {}},
        "/n/{id}/{name}": {"post": {}},
        "/t/{x}": {"get": {}},
        "/t/{y}": {"post": {}},
    }
}


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/a/c/b", {"PUT"}),  # the first segment where they differ decides: `c` is literal there
        ("/a/d/b", {"GET"}),
        ("/a/d/e", {"DELETE"}),
        ("/n/1/doc.pdf", {"GET"}),  # partly literal beats a bare parameter
        ("/n/1/other", {"POST"}),
        ("/t/1", {"GET", "POST"}),  # equally specific: either may take it
    ],
)
def test_the_most_specific_template_decides(path: str, allowed: set[str]) -> None:
    assert allowed_methods(documented_paths(OVERLAPPING), path) == frozenset(allowed)


def test_every_published_literal_path_allows_its_own_methods_only() -> None:
    openapi = published_openapi()
    table = documented_paths(openapi)
    literal = {p: ops for p, ops in openapi["paths"].items() if "{" not in p}
    assert "/api/v1/staff/leave-check" in literal
    for path, operations in literal.items():
        documented = frozenset(m.upper() for m in operations if m.upper() in HTTP_METHODS)
        assert allowed_methods(table, path) == documented, path


def test_the_published_paths_know_which_methods_take_the_key() -> None:
    table = documented_paths(published_openapi())
    me, sign_in = documented_path(table, "/api/v1/auth/me"), documented_path(table, "/api/v1/auth/sign-in")
    assert me is not None and me.secured == {"GET"}
    assert sign_in is not None and sign_in.secured == frozenset()


@pytest.mark.parametrize("method", ["OPTIONS", "PATCH", "GET"])
async def test_a_method_not_documented_on_leave_check_is_405_allowing_only_post(method: str) -> None:
    seen: list[httpx.Request] = []
    async with gateway(ok(seen)) as client:
        answer = await client.request(method, "/api/v1/staff/leave-check", headers=KEY)
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
    assert re.search(r"allowed: POST$", answer.json()["detail"])
    assert seen == []  # PATCH no longer reaches the roster as a staff id that can never exist


async def test_a_staff_id_still_allows_patch_and_leave_check_post_is_forwarded() -> None:
    seen: list[httpx.Request] = []
    async with gateway(ok(seen)) as client:
        options = await client.options("/api/v1/staff/s-1", headers=KEY)
        patched = await client.patch("/api/v1/staff/s-1", headers=KEY, json={})
        checked = await client.post("/api/v1/staff/leave-check", headers=KEY, json={})
    assert options.status_code == 405 and options.headers["allow"] == "PATCH"
    assert (patched.status_code, checked.status_code) == (200, 200)
    assert [r.url.path for r in seen] == ["/api/v1/staff/s-1", "/api/v1/staff/leave-check"]
