"""The gateway sends each request to the service that answers it."""

from services.gateway.routes import Route, resolve, route_table
from services.gateway.settings import GatewaySettings

SETTINGS = GatewaySettings(
    intake_url="http://intake",
    casequery_url="http://casequery",
    assignment_url="http://assignment",
    disbursement_url="http://disbursement",
)


def upstream(method: str, path: str) -> str | None:
    route = resolve(route_table(SETTINGS), method, path)
    return route.upstream.urls[0] if isinstance(route, Route) else route


def test_routes_writes_to_intake_and_reads_to_casequery() -> None:
    assert upstream("POST", "/api/v1/cases") == "http://intake"
    assert upstream("GET", "/api/v1/cases") == "http://casequery"
    assert upstream("GET", "/api/v1/cases/abc/events") == "http://casequery"
    assert upstream("POST", "/api/v1/cases/abc/rating") == "http://assignment"
    assert upstream("GET", "/api/v1/concierges") == "http://assignment"
    assert upstream("PATCH", "/api/v1/staff/s1") == "http://assignment"


def test_unknown_paths_and_methods_are_told_apart() -> None:
    assert upstream("GET", "/api/v1/casesX") is None
    assert upstream("GET", "/admin") is None
    assert upstream("DELETE", "/api/v1/cases/abc") == "method"


def test_disbursements_and_arrears_go_to_the_disbursement_service() -> None:
    assert upstream("POST", "/api/v1/disbursements") == "http://disbursement"
    assert upstream("GET", "/api/v1/disbursements/dashboard") == "http://disbursement"
    assert upstream("GET", "/api/v1/disbursements/report.xlsx") == "http://disbursement"
    assert upstream("POST", "/api/v1/disbursements/d1/payments") == "http://disbursement"
    assert upstream("POST", "/api/v1/arrears/a1/repayments") == "http://disbursement"
    assert upstream("GET", "/api/v1/disbursementsX") is None
