"""Several instances of a service behind the gateway: taken in turn, and one that is down is passed over."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from services.gateway.settings import GatewaySettings
from services.gateway.upstreams import RESTING_S, Upstream
from tests.unit.test_gateway_forwarding import KEY, gateway

TWO = "http://casequery-1:8102,http://casequery-2:8102"


def instances(
    seen: list[httpx.Request], failing: dict[str, type[httpx.RequestError]], *, probes_fail: bool = True
):
    """Stub instances: a host in `failing` raises its error (its /healthz too, unless only requests fail);
    the others answer with their name. The gateway's own /healthz probes are not counted in `seen`."""

    async def handle(request: httpx.Request) -> httpx.Response:
        probe = request.url.path == "/healthz"
        if not probe:
            seen.append(request)
        error = failing.get(request.url.host)
        if error is not None and (probes_fail or not probe):
            raise error("stub failure", request=request)
        return httpx.Response(200, json={"status": "ok"} if probe else {"served_by": request.url.host})

    return handle


def down(*hosts: str) -> dict[str, type[httpx.RequestError]]:
    """Instances that refuse connections (stopped)."""
    return dict.fromkeys(hosts, httpx.ConnectError)


async def test_reads_are_spread_over_the_instances_in_turn() -> None:
    seen: list[httpx.Request] = []
    async with gateway(instances(seen, {}), casequery_url=TWO) as client:
        served = [(await client.get("/api/v1/cases", headers=KEY)).json()["served_by"] for _ in range(4)]
    assert served == ["casequery-1", "casequery-2", "casequery-1", "casequery-2"]


async def test_an_instance_that_is_down_is_passed_over_and_every_request_is_answered() -> None:
    seen: list[httpx.Request] = []
    async with gateway(instances(seen, down("casequery-1")), casequery_url=TWO) as client:
        answers = [await client.get("/api/v1/cases", headers=KEY) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    assert {a.json()["served_by"] for a in answers} == {"casequery-2"}
    # Refused once, it is tried last for a while: later requests go straight to the one that answers.
    assert [r.url.host for r in seen].count("casequery-1") == 1


async def test_a_write_moves_on_when_the_first_instance_refused_the_connection() -> None:
    seen: list[httpx.Request] = []
    async with gateway(
        instances(seen, down("intake-1")), intake_url="http://intake-1,http://intake-2"
    ) as client:
        answer = await client.post("/api/v1/cases", content=b"{}", headers=KEY)
    assert answer.status_code == 200 and answer.json()["served_by"] == "intake-2"  # nothing reached intake-1


async def test_a_write_an_instance_may_have_received_is_not_sent_to_another() -> None:
    seen: list[httpx.Request] = []
    reset = dict.fromkeys(("intake-1", "intake-2"), httpx.ReadError)  # reset after the request was sent
    handle = instances(seen, reset, probes_fail=False)
    async with gateway(handle, intake_url="http://intake-1,http://intake-2") as client:
        answer = await client.post("/api/v1/cases", content=b"{}", headers=KEY)
    assert answer.status_code == 503 and "Retry-After" in answer.headers
    assert len(seen) == 1  # without an Idempotency-Key, a second intake could open the case twice


async def test_a_hung_instance_costs_one_request_a_503_and_the_next_ones_go_to_the_other_first() -> None:
    seen: list[httpx.Request] = []
    hung = instances(seen, {"casequery-1": httpx.ReadTimeout}, probes_fail=False)  # healthy when asked
    async with gateway(hung, casequery_url=TWO) as client:
        answers = [await client.get("/api/v1/cases", headers=KEY) for _ in range(5)]
    assert answers[0].status_code == 503 and "did not answer in time" in answers[0].json()["detail"]
    assert [a.status_code for a in answers[1:]] == [200] * 4
    assert [r.url.host for r in seen].count("casequery-1") == 1  # not sent again, and set aside


async def test_with_every_instance_down_the_caller_gets_503_and_retry_after() -> None:
    seen: list[httpx.Request] = []
    async with gateway(instances(seen, down("casequery-1", "casequery-2")), casequery_url=TWO) as client:
        answer = await client.get("/api/v1/cases", headers=KEY)
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert sorted(r.url.host for r in seen) == ["casequery-1", "casequery-2"]


async def test_health_is_ok_while_one_instance_answers_and_names_no_internal_address() -> None:
    seen: list[httpx.Request] = []
    async with gateway(instances(seen, down("casequery-1")), casequery_url=TWO) as client:
        one_down = await client.get("/healthz")
    async with gateway(instances(seen, down("casequery-1", "casequery-2")), casequery_url=TWO) as client:
        both_down = await client.get("/healthz")
    assert one_down.status_code == 200
    assert one_down.json()["checks"]["casequery"].startswith("ok: 1 of 2 instances answer; #1 down")
    assert "casequery-1" not in one_down.text
    assert both_down.status_code == 503 and both_down.json()["checks"]["casequery"].startswith("down: 0 of 2")


async def test_an_instance_whose_health_check_hangs_is_set_aside_before_any_request_waits_on_it() -> None:
    hung = instances([], {"b": httpx.ReadTimeout})  # accepts connections, answers nothing (SIGSTOP)
    upstream = Upstream("casequery", ("http://a", "http://b"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(hung)) as client:
        await upstream.probe(client)
    assert [upstream.order()[0] for _ in range(4)] == ["http://a"] * 4


async def test_an_instance_that_drops_connections_is_passed_over_by_the_next_requests() -> None:
    seen: list[httpx.Request] = []
    dropping = instances(seen, {"casequery-1": httpx.RemoteProtocolError}, probes_fail=False)
    async with gateway(dropping, casequery_url=TWO) as client:
        answers = [await client.get("/api/v1/cases", headers=KEY) for _ in range(4)]
    assert {a.json()["served_by"] for a in answers} == {"casequery-2"}  # a GET moves on, then it rests
    assert [r.url.host for r in seen].count("casequery-1") == 1


def test_an_instance_rests_only_for_a_while() -> None:
    now = [0.0]
    upstream = Upstream("casequery", ("http://a", "http://b"), clock=lambda: now[0])
    upstream.set_aside("http://a")
    assert [upstream.order()[0] for _ in range(4)] == ["http://b"] * 4
    now[0] += RESTING_S + 0.1
    assert {upstream.order()[0] for _ in range(4)} == {"http://a", "http://b"}


@pytest.mark.parametrize(
    "value",
    [
        "",
        "casequery:8102",
        "http://a,",
        "ftp://a",
        "http://a, ,http://b",
        "http://ops:S3cretPass@casequery:8102",  # httpx would send Basic auth instead of the caller's key
        "http://casequery:8102/prefix",  # requests keep their own path: a prefix would be dropped
        "http://casequery:8102?x=1",
        "http://casequery:99999",  # an OverflowError on every request, a 500
        "http://[::1",
        "http://a:1,http://a:1",
    ],
)
def test_a_setting_that_is_not_a_list_of_http_origins_stops_the_start_without_echoing_it(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        GatewaySettings(casequery_url=value)
    assert "not an http(s) base URL" in str(refused.value) or "named twice" in str(refused.value)
    assert "S3cretPass" not in str(refused.value)
