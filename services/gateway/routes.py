"""The route table: which service answers which method and path. The same table serves compose."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.settings import GatewaySettings


@dataclass(frozen=True)
class Route:
    """Requests with this method under this path prefix go to this upstream."""

    method: str
    prefix: str
    upstream: str

    def matches(self, method: str, path: str) -> bool:
        """Tell whether a request is for this route."""
        return method == self.method and (path == self.prefix or path.startswith(self.prefix + "/"))


def route_table(settings: GatewaySettings) -> list[Route]:
    """Return the routes, most specific first."""
    return [
        Route("POST", "/api/v1/cases", settings.intake_url),
        Route("GET", "/api/v1/cases", settings.casequery_url),
    ]


def upstreams(settings: GatewaySettings) -> dict[str, str]:
    """Return every service behind the gateway, for /healthz."""
    return {"intake": settings.intake_url, "casequery": settings.casequery_url, "relay": settings.relay_url}


def resolve(routes: list[Route], method: str, path: str) -> Route | str | None:
    """Return the matching route, 'method' when only the method is wrong, or None."""
    for route in routes:
        if route.matches(method, path):
            return route
    if any(r.matches(r.method, path) for r in routes):
        return "method"
    return None
