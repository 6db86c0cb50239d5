"""The route table: which service answers which method and path. The same table serves compose."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.settings import GatewaySettings
from services.gateway.upstreams import Upstream, parse_urls

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# The feed's long poll answers after up to `wait` seconds, 0-30 (README; casequery refuses more): the
# gateway waits that long plus its usual time to answer, or a poll at the maximum would end in a 503.
FEED_MAX_WAIT_S = 30.0


@dataclass(frozen=True)
class Route:
    """Requests with one of these methods at this path (or under it) go to this upstream."""

    methods: tuple[str, ...]
    prefix: str
    upstream: Upstream
    exact: bool = False
    timeout_s: float | None = None  # how long the upstream may take to answer; None: GATEWAY_TIMEOUT_S
    long_poll: bool = False  # with a `wait` > 0 it holds a connection that long: capped, on its own pool

    def covers(self, path: str) -> bool:
        """Tell whether the path is this route's."""
        return path == self.prefix or (not self.exact and path.startswith(self.prefix + "/"))

    def matches(self, method: str, path: str) -> bool:
        """Tell whether a request is for this route."""
        return method in self.methods and self.covers(path)


def route_table(settings: GatewaySettings, services: dict[str, Upstream] | None = None) -> list[Route]:
    """Return the routes, most specific first (to `services`, or to upstreams built from the settings)."""
    u = services or upstreams(settings)
    return [
        Route(("POST",), "/api/v1/cases", u["intake"], exact=True),
        Route(("POST",), "/api/v1/cases", u["assignment"]),  # the six steps of a case
        Route(("GET",), "/api/v1/cases", u["casequery"]),
        Route(ALL_METHODS, "/api/v1/staff", u["assignment"]),
        Route(ALL_METHODS, "/api/v1/concierges", u["assignment"]),
        Route(ALL_METHODS, "/api/v1/assignments", u["assignment"]),
        Route(("GET",), "/api/v1/statistics", u["assignment"]),
        Route(ALL_METHODS, "/api/v1/notices", u["assignment"]),
        Route(ALL_METHODS, "/api/v1/calendar", u["assignment"]),
        Route(ALL_METHODS, "/api/v1/auth", u["assignment"]),  # people sign in: accounts live by the roster
        Route(ALL_METHODS, "/api/v1/accounts", u["assignment"]),
        Route(ALL_METHODS, "/api/v1/integrations", u["intake"]),  # integration keys that sign messages
        Route(("GET",), "/api/v1/audit", u["relay"]),  # the event store's hash chain
        Route(ALL_METHODS, "/api/v1/disbursements", u["disbursement"]),
        Route(ALL_METHODS, "/api/v1/arrears", u["disbursement"]),
        Route(  # a bureau's own events, long-polled
            ("GET",),
            "/api/v1/feed",
            u["casequery"],
            exact=True,
            timeout_s=FEED_MAX_WAIT_S + settings.timeout_s,
            long_poll=True,
        ),
        Route(ALL_METHODS, "/api/v1/inbox", u["notification"]),
        Route(ALL_METHODS, "/api/v1/notifications", u["notification"]),
        Route(ALL_METHODS, "/api/v1/contacts", u["notification"]),
        Route(ALL_METHODS, "/api/v1/feedback", u["notification"]),  # the rating link: no account
    ]


def upstreams(settings: GatewaySettings) -> dict[str, Upstream]:
    """Return every service behind the gateway with its instances (the routes' and /healthz's)."""
    urls = {
        "intake": settings.intake_url,
        "casequery": settings.casequery_url,
        "assignment": settings.assignment_url,
        "notification": settings.notification_url,
        "relay": settings.relay_url,
        "disbursement": settings.disbursement_url,
    }
    return {name: Upstream(name, parse_urls(value)) for name, value in urls.items()}


def resolve(routes: list[Route], method: str, path: str) -> Route | str | None:
    """Return the matching route, 'method' when only the method is wrong, or None."""
    for route in routes:
        if route.matches(method, path):
            return route
    if any(r.covers(path) for r in routes):
        return "method"
    return None
