"""The gateway answers what the published API does not document: 404 for a path, 405 + Allow for a method."""

from __future__ import annotations

import httpx
import pytest

from services.gateway.methods import allowed_methods, documented_paths
from tests.unit.test_gateway_forwarding import KEY, gateway, ok

OPENAPI = {
    "paths": {
        "/api/v1/cases": {"get": {}, "post": {}},
        "/api/v1/staff/leave-check": {"post": {}},
        "/api/v1/staff/{staff_id}": {"get": {}, "patch": {}, "parameters": []},
        "/api/v1/notices/{notice_id}/document.{kind}": {"get": {}},
        "/healthz": {"get": {}},
    }
}


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/cases", {"GET", "POST"}),
        ("/api/v1/staff/s-1", {"GET", "PATCH"}),
        ("/api/v1/staff/leave-check", {"POST"}),  # the literal path beats the template
        ("/api/v1/staff/a%2Fb", None),  # an encoded slash is no id: the service would read another path
        ("/api/v1/notices/n-1/document.pdf", {"GET"}),
        ("/api/v1/cases/", None),
        ("/api/v1/staff/s-1/x", None),
        ("/api/v1/notices/n-1/document", None),
    ],
)
def test_a_path_allows_the_methods_of_the_template_it_matches_best(
    path: str, allowed: set[str] | None
) -> None:
    assert allowed_methods(documented_paths(OPENAPI), path) == (
        None if allowed is None else frozenset(allowed)
    )


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/cases", "GET, POST"),  # served by two services: the Allow names both
        ("OPTIONS", "/api/v1/cases", "GET, POST"),
        ("HEAD", "/api/v1/cases/c-1", "GET"),
        ("PUT", "/api/v1/cases/c-1/tasks", "POST"),
        ("DELETE", "/api/v1/statistics", "GET"),
        ("TRACE", "/api/v1/feed", "GET"),
        ("PUT", "/healthz", "GET"),
    ],
)
async def test_an_undocumented_method_is_405_with_the_documented_methods_and_never_reaches_a_service(
    method: str, path: str, allow: str
) -> None:
    seen: list[httpx.Request] = []
    async with gateway(ok(seen)) as client:
        answer = await client.request(method, path, headers=KEY)
    assert answer.status_code == 405 and answer.headers["allow"] == allow
    if method != "HEAD":
        assert allow in answer.json()["detail"]
    assert seen == []


@pytest.mark.parametrize(
    "path", ["/api/v1/cases/", "/api/v1/nothing", "/api/v1/cases/c-1/nothing", "/api/v2/cases"]
)
async def test_an_undocumented_path_is_404_whatever_the_method(path: str) -> None:
    seen: list[httpx.Request] = []
    async with gateway(ok(seen)) as client:
        for method in ("GET", "PUT", "OPTIONS"):
            answer = await client.request(method, path, headers=KEY)
            assert answer.status_code == 404, (method, path, answer.text)
    assert seen == []


async def test_a_documented_method_is_forwarded() -> None:
    seen: list[httpx.Request] = []
    async with gateway(ok(seen)) as client:
        answer = await client.request("PATCH", "/api/v1/staff/s-1", headers=KEY, json={})
    assert answer.status_code == 200 and seen[0].url.host == "assignment"
