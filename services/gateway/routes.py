"""The route table: which service answers which method and path. The same table serves compose."""

from __future__ import annotations

from dataclasses import dataclass

from services.gateway.settings import GatewaySettings

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# The feed's long poll answers after up to `wait` seconds, 0-30 (README; casequery refuses more): the
# gateway waits that long plus its usual time to answer, or a poll at the maximum would end in a 503.
FEED_MAX_WAIT_S = 30.0


@dataclass(frozen=True)
class Route:
    """Requests with one of these methods at this path (or under it) go to this upstream."""

    methods: tuple[str, ...]
    prefix: str
    upstream: str
    exact: bool = False
    timeout_s: float | None = None  # how long the upstream may take to answer; None: GATEWAY_TIMEOUT_S

    def covers(self, path: str) -> bool:
        """Tell whether the path is this route's."""
        return path == self.prefix or (not self.exact and path.startswith(self.prefix + "/"))

    def matches(self, method: str, path: str) -> bool:
        """Tell whether a request is for this route."""
        return method in self.methods and self.covers(path)


def route_table(settings: GatewaySettings) -> list[Route]:
    """Return the routes, most specific first."""
    return [
        Route(("POST",), "/api/v1/cases", settings.intake_url, exact=True),
        Route(("POST",), "/api/v1/cases", settings.assignment_url),  # the six steps of a case
        Route(("GET",), "/api/v1/cases", settings.casequery_url),
        Route(ALL_METHODS, "/api/v1/staff", settings.assignment_url),
        Route(ALL_METHODS, "/api/v1/concierges", settings.assignment_url),
        Route(ALL_METHODS, "/api/v1/assignments", settings.assignment_url),
        Route(("GET",), "/api/v1/statistics", settings.assignment_url),
        Route(ALL_METHODS, "/api/v1/notices", settings.assignment_url),
        Route(ALL_METHODS, "/api/v1/calendar", settings.assignment_url),
        Route(
            ALL_METHODS, "/api/v1/auth", settings.assignment_url
        ),  # people sign in: accounts live by the roster
        Route(ALL_METHODS, "/api/v1/accounts", settings.assignment_url),
        Route(
            ALL_METHODS, "/api/v1/integrations", settings.intake_url
        ),  # integration keys that sign messages
        Route(("GET",), "/api/v1/audit", settings.relay_url),  # the event store's hash chain
        Route(ALL_METHODS, "/api/v1/disbursements", settings.disbursement_url),
        Route(ALL_METHODS, "/api/v1/arrears", settings.disbursement_url),
        Route(  # a bureau's own events, long-polled
            ("GET",),
            "/api/v1/feed",
            settings.casequery_url,
            exact=True,
            timeout_s=FEED_MAX_WAIT_S + settings.timeout_s,
        ),
        Route(ALL_METHODS, "/api/v1/inbox", settings.notification_url),
        Route(ALL_METHODS, "/api/v1/notifications", settings.notification_url),
        Route(ALL_METHODS, "/api/v1/contacts", settings.notification_url),
        Route(ALL_METHODS, "/api/v1/feedback", settings.notification_url),  # the rating link: no account
    ]


def upstreams(settings: GatewaySettings) -> dict[str, str]:
    """Return every service behind the gateway, for /healthz."""
    return {
        "intake": settings.intake_url,
        "casequery": settings.casequery_url,
        "assignment": settings.assignment_url,
        "notification": settings.notification_url,
        "relay": settings.relay_url,
        "disbursement": settings.disbursement_url,
    }


def resolve(routes: list[Route], method: str, path: str) -> Route | str | None:
    """Return the matching route, 'method' when only the method is wrong, or None."""
    for route in routes:
        if route.matches(method, path):
            return route
    if any(r.covers(path) for r in routes):
        return "method"
    return None
