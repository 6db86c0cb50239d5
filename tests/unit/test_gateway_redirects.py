"""Through the gateway, no answer sends the caller to a service's internal address (a trailing slash included)."""

from __future__ import annotations

import importlib

import httpx
import pytest
from fastapi import FastAPI

from services.gateway.bootstrap import build_app
from tests.unit.test_gateway_forwarding import KEY, Handler, gateway, settings

SERVICES = {
    "intake": "IntakeSettings",
    "casequery": "CaseQuerySettings",
    "assignment": "AssignmentSettings",
    "disbursement": "DisbursementSettings",
    "notification": "NotificationSettings",
    "relay": "RelaySettings",
}
# The trailing-slash paths that answered 307 to an internal port on the running stack.
SLASHED = [
    "/api/v1/cases/c_0123456789abcdef/",
    "/api/v1/disbursements/",
    "/api/v1/staff/",
    "/api/v1/notices/",
    "/api/v1/statistics/",
    "/api/v1/inbox/",
    "/api/v1/integrations/keys/",
    "/api/v1/audit/",
]


class ServicesByHost(httpx.AsyncBaseTransport):
    """The network behind the gateway: each upstream host answered by that service's own app."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self._transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transports[request.url.host].handle_async_request(request)


@pytest.fixture(scope="module")
def services() -> dict[str, FastAPI]:
    """Every service's production app, as deployed (no lifespan: nothing here reaches MongoDB or Kafka)."""
    apps = {}
    for name, settings_class in SERVICES.items():
        settings_type = getattr(importlib.import_module(f"services.{name}.settings"), settings_class)
        apps[name] = importlib.import_module(f"services.{name}.bootstrap").build_app(settings_type())
    return apps


@pytest.mark.parametrize("path", SLASHED)
async def test_a_trailing_slash_is_404_through_the_gateway_never_a_redirect_to_an_internal_port(
    services: dict[str, FastAPI], path: str
) -> None:
    urls = {f"{name}_url": f"http://{name}" for name in SERVICES}
    app = build_app(settings(**urls), transport=ServicesByHost(services))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client,
    ):
        answer = await client.get(path, headers=KEY)

    assert answer.status_code == 404, (answer.status_code, answer.headers.get("location"))
    assert "location" not in answer.headers


@pytest.mark.parametrize("name", SERVICES)
async def test_no_service_redirects_a_trailing_slash(services: dict[str, FastAPI], name: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=services[name]), base_url="http://s") as c:
        answer = await c.get("/healthz/")

    assert answer.status_code == 404 and "location" not in answer.headers


def redirecting(location: str, header: str = "location") -> Handler:
    """A stub upstream answering 307 with the given Location (`{origin}` = the address it was reached at)."""

    async def handle(request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        return httpx.Response(307, headers={header: location.format(origin=origin)})

    return handle


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/api/v1/cases/c1", "casequery_url"),
        ("/api/v1/disbursements", "disbursement_url"),
        ("/api/v1/staff", "assignment_url"),
        ("/api/v1/inbox", "notification_url"),
    ],
)
async def test_a_location_naming_an_upstream_becomes_a_path_on_the_gateway(path: str, upstream: str) -> None:
    internal = {upstream: "http://127.0.0.1:8102"}
    async with gateway(redirecting("{origin}" + path + "?a=1#top"), **internal) as client:
        answer = await client.get(path, headers=KEY)

    assert answer.status_code == 307
    assert answer.headers["location"] == path + "?a=1#top"


async def test_an_upstream_named_with_its_default_port_is_recognised_too() -> None:
    async with gateway(redirecting("HTTP://CaseQuery:80/api/v1/cases/c1")) as client:
        answer = await client.get("/api/v1/cases/c1", headers=KEY)

    assert answer.headers["location"] == "/api/v1/cases/c1"


async def test_a_content_location_naming_an_upstream_is_rewritten_as_well() -> None:
    async with gateway(redirecting("{origin}/api/v1/cases/c1", "content-location")) as client:
        answer = await client.get("/api/v1/cases/c1", headers=KEY)

    assert answer.headers["content-location"] == "/api/v1/cases/c1"


@pytest.mark.parametrize("location", ["/api/v1/disbursements/d1", "https://example.org/help"])
async def test_a_relative_or_off_site_location_is_passed_as_it_is(location: str) -> None:
    async with gateway(redirecting(location), disbursement_url="http://disbursement") as client:
        answer = await client.get("/api/v1/disbursements/d1", headers=KEY)

    assert answer.headers["location"] == location
