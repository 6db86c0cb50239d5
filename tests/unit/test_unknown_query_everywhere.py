"""Every route of every service refuses an unknown query parameter (422), not only those marked for it.

The apps are built as they are published (services.published), with fake API keys: the refusal comes before
any read, so no MongoDB is reached. A route without query parameters takes none.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pymongo.errors import ServerSelectionTimeoutError

from services.assignment.bootstrap import build_app as build_assignment
from services.assignment.settings import AssignmentSettings
from services.casequery.bootstrap import build_app as build_casequery
from services.casequery.settings import CaseQuerySettings
from services.disbursement.bootstrap import build_app as build_disbursement
from services.disbursement.settings import DisbursementSettings
from services.gateway.bootstrap import build_app as build_gateway
from services.gateway.settings import GatewaySettings
from services.intake.bootstrap import build_app as build_intake
from services.intake.settings import IntakeSettings
from services.notification.bootstrap import build_app as build_notification
from services.notification.settings import NotificationSettings
from services.relay.bootstrap import build_app as build_relay
from services.relay.settings import RelaySettings
from shared.auth.http import Caller
from shared.auth.keys import Role
from shared.http_query import declared_query_names
from shared.service import install_error_handlers
from tests.fakes import FakeApiKeys

ADMIN = {"Authorization": "Bearer finance-admin"}
KEYS = FakeApiKeys({"finance-admin": ("finance", Role.ADMIN)})
BOGUS = {
    "loc": ["query", "bogus"],
    "msg": "未知的查询参数 'bogus' / unknown filter 'bogus'",
    "type": "extra_forbidden",
}

BUILDERS: dict[str, Callable[[], FastAPI]] = {
    "intake": lambda: build_intake(IntakeSettings()),
    "casequery": lambda: build_casequery(CaseQuerySettings()),
    "assignment": lambda: build_assignment(AssignmentSettings()),
    "disbursement": lambda: build_disbursement(DisbursementSettings()),
    "notification": lambda: build_notification(NotificationSettings()),
    "relay": lambda: build_relay(RelaySettings()),
}
_APPS: dict[str, FastAPI] = {}


def app_of(service: str) -> FastAPI:
    """The service's app as published, with fake API keys (built once: building is not what is tested)."""
    if service not in _APPS:
        app = BUILDERS[service]()
        app.state.api_keys = KEYS
        _APPS[service] = app
    return _APPS[service]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def every_operation() -> list[tuple[str, str, str, frozenset[str]]]:
    """(service, method, concrete path, declared query names) of every FastAPI route of every service."""
    found = []
    for service in BUILDERS:
        for route in iter_route_contexts(app_of(service).routes):
            if not isinstance(route.original_route, APIRoute):
                continue
            declared = declared_query_names(route.dependant)
            for method in sorted(route.methods or ()):
                found.append((service, method, _concrete(route.path), declared))
    return found


OPERATIONS = every_operation()


def test_the_walk_covers_the_routes_the_trial_found_ignoring_unknown_names() -> None:
    walked = {(method, path) for _, method, path, _ in OPERATIONS}
    for path in (
        "/api/v1/auth/tokens",
        "/api/v1/auth/me",
        "/api/v1/accounts",
        "/api/v1/notices",
        "/api/v1/assignments/settings",
        "/api/v1/disbursements/settings",
        "/api/v1/assignments/queue",
        "/api/v1/calendar/x1",
        "/healthz",
        "/metrics",
    ):
        assert ("GET", path) in walked, path
    assert len(OPERATIONS) > 80
    assert {service for service, *_ in OPERATIONS} == set(BUILDERS)


async def _ask(app: FastAPI, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, url, headers=headers)


@pytest.mark.parametrize(
    ("service", "method", "path", "declared"), OPERATIONS, ids=[f"{s}:{m} {p}" for s, m, p, _ in OPERATIONS]
)
async def test_every_route_refuses_an_unknown_query_parameter(
    service: str, method: str, path: str, declared: frozenset[str]
) -> None:
    assert "bogus" not in declared
    answer = await _ask(app_of(service), method, f"{path}?bogus=1", ADMIN)
    assert answer.status_code == 422, answer.text
    assert BOGUS in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/auth/tokens", "/api/v1/notices", "/api/v1/calendar/2026"])
async def test_an_anonymous_caller_of_an_authenticated_route_gets_its_401_first(path: str) -> None:
    service = "assignment"
    answer = await _ask(app_of(service), "GET", f"{path}?bogus=1", {})
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == "Bearer"
    unknown = await _ask(app_of(service), "GET", f"{path}?bogus=1", {"Authorization": "Bearer nobody"})
    assert unknown.status_code == 401, unknown.text


async def test_a_route_without_authentication_refuses_an_unknown_name_from_anyone() -> None:
    answer = await _ask(app_of("casequery"), "GET", "/healthz?bogus=1", {})
    assert answer.status_code == 422 and answer.json() == {"detail": [BOGUS]}


class DatabaseDown:
    """API keys whose store cannot be reached."""

    async def authenticate(self, key: str) -> None:
        raise ServerSelectionTimeoutError("no server")


async def test_a_database_outage_while_authenticating_is_the_usual_503_not_a_500() -> None:
    # The check authenticates outside the app's exception middleware: the app's own handler still answers.
    app = plain_app([])
    app.state.api_keys = DatabaseDown()
    answer = await _ask(app, "POST", "/api/v1/things?bogus=1", ADMIN)
    assert answer.status_code == 503 and answer.headers["retry-after"], answer.text
    assert "MongoDB" in answer.json()["detail"]


def plain_app(ran: list[str]) -> FastAPI:
    """Routes without KNOWN_QUERY_ONLY: one on the app, one in a router included with a prefix."""
    app = FastAPI()
    install_error_handlers(app)
    app.state.api_keys = KEYS
    router = APIRouter()

    @router.post("/things", status_code=201)
    async def make(caller: Caller, limit: int = 5) -> dict[str, int]:
        ran.append("make")
        return {"limit": limit}

    app.include_router(router, prefix="/api/v1")

    @app.get("/open")
    async def open_route() -> dict[str, bool]:
        ran.append("open")
        return {"ok": True}

    return app


async def test_a_route_not_marked_refuses_before_its_endpoint_runs_and_names_a_repeat() -> None:
    ran: list[str] = []
    app = plain_app(ran)
    refused = await _ask(app, "POST", "/api/v1/things?limit=1&bogus=1", ADMIN)
    assert refused.status_code == 422 and refused.json()["detail"] == [BOGUS]
    twice = await _ask(app, "POST", "/api/v1/things?limit=1&limit=2", ADMIN)
    assert twice.status_code == 422 and "given more than once" in twice.text, twice.text
    assert (await _ask(app, "GET", "/open?bogus=1", {})).status_code == 422
    assert ran == []
    taken = await _ask(app, "POST", "/api/v1/things?limit=3", ADMIN)
    assert taken.status_code == 201 and taken.json() == {"limit": 3}
    assert (await _ask(app, "GET", "/open?", {})).status_code == 200
    assert ran == ["make", "open"]


async def test_a_path_that_matches_no_route_is_still_a_404_and_another_method_a_405() -> None:
    app = app_of("assignment")
    assert (await _ask(app, "GET", "/api/v1/nowhere?bogus=1", ADMIN)).status_code == 404
    assert (await _ask(app, "PATCH", "/api/v1/auth/me?bogus=1", ADMIN)).status_code == 405


# -- The gateway: its own routes are checked; its proxy hands the query string on to the service --


def _gateway(seen: list[httpx.Request]) -> FastAPI:
    async def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    settings = GatewaySettings(
        intake_url="http://intake",
        casequery_url="http://casequery",
        assignment_url="http://assignment",
        relay_url="http://relay",
    )
    return build_gateway(settings, transport=httpx.MockTransport(upstream))


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/metrics"])
async def test_the_gateways_own_routes_refuse_an_unknown_name(path: str) -> None:
    answer = await _ask(_gateway([]), "GET", f"{path}?bogus=1", {})
    assert answer.status_code == 422 and answer.json() == {"detail": [BOGUS]}, answer.text


async def test_the_gateway_forwards_any_query_string_for_the_service_to_judge() -> None:
    seen: list[httpx.Request] = []
    app = _gateway(seen)
    async with app.router.lifespan_context(app):
        answer = await _ask(app, "GET", "/api/v1/cases?bogus=1", ADMIN)
    assert answer.status_code == 200, answer.text
    assert seen[0].url.raw_path == b"/api/v1/cases?bogus=1"
