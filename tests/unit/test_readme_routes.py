"""README documents no route that the API does not serve: each is in the OpenAPI and routed by the gateway."""

from __future__ import annotations

import pytest

from services import published
from services.gateway.routes import Route, resolve, route_table
from services.gateway.settings import GatewaySettings
from tests.readme_routes import concrete, documented_routes, matches

ROUTES = documented_routes()
# The gateway's own (each service also serves /healthz and /metrics on its port; tests call them there).
NOT_IN_OPENAPI = {("GET", "/healthz"), ("GET", "/openapi.json"), ("GET", "/metrics")}


@pytest.fixture(scope="module")
def openapi_paths() -> dict[str, dict]:
    return dict(published.openapi()["paths"])


def test_readme_documents_the_routes_it_is_known_to_document() -> None:
    # Guards the parser: if README's layout changes and nothing is found, this fails instead of passing empty.
    assert ("PUT", "/api/v1/assignments/settings") in ROUTES
    assert ("POST", "/api/v1/cases/{id}/tasks/{t}/cancel") in ROUTES
    assert ("GET", "/api/v1/notices/{id}/document.docx") in ROUTES
    assert len(ROUTES) >= 25


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_documented_route_is_served(method: str, path: str, openapi_paths: dict[str, dict]) -> None:
    if (method, path) in NOT_IN_OPENAPI:
        return
    served = [p for p, ops in openapi_paths.items() if matches(path, p) and method.lower() in ops]
    assert served, f"README documents {method} {path} but no service serves it"


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_documented_route_is_routed_by_the_gateway(method: str, path: str) -> None:
    if (method, path) in NOT_IN_OPENAPI:
        return
    route = resolve(route_table(GatewaySettings()), method, concrete(path))
    assert isinstance(route, Route), f"the gateway does not route {method} {path}"
