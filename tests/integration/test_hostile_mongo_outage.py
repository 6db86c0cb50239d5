"""MongoDB stops: requests get a fast 503 with Retry-After, /healthz names mongodb; all recovers when it returns."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from shared.devstack.stack import Stack
from tests.api import Api
from tests.conftest import stack_config
from tests.support import case_body, eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: this test stops its database."""
    s = Stack(stack_config(tmp_path_factory.mktemp("outage"))).start()
    yield s
    s.stop()


@pytest.fixture
async def api(own_stack: Stack) -> AsyncIterator[Api]:
    async with Api.connect(own_stack) as clients:
        yield clients


async def test_requests_get_503_with_retry_after_while_mongodb_is_down_then_succeed_again(
    own_stack: Stack, api: Api
) -> None:
    assert (await api.finance.post("/api/v1/cases", json=case_body(801))).status_code == 201
    assert own_stack.mongo is not None
    own_stack.mongo.stop()

    began = time.monotonic()
    down = await api.finance.post("/api/v1/cases", json=case_body(802))  # the key is still cached
    took = time.monotonic() - began
    assert down.status_code == 503, down.text
    assert int(down.headers["Retry-After"]) > 0 and "MongoDB" in down.json()["detail"]
    assert took < 10  # server selection gives up after a few seconds, not the driver's 30

    async def health_names_mongodb() -> httpx.Response | None:
        answer = await api.anonymous.get("/healthz")
        return (
            answer if answer.status_code == 503 and "mongodb" in answer.json()["checks"]["intake"] else None
        )

    await eventually(health_names_mongodb, 30, "the gateway's /healthz to name mongodb")

    own_stack.start_servers()  # SecantusDB again, on the same port and data

    async def opened() -> httpx.Response | None:
        answer = await api.finance.post("/api/v1/cases", json=case_body(803))
        return answer if answer.status_code == 201 else None

    answer = await eventually(opened, 60, "a case to be opened again")
    await api.wait_for_case(answer.json()["case_id"], timeout=60)  # the whole pipeline resumed
    healthy = await eventually(lambda: _status(api, 200), 60, "the gateway's /healthz to be ok again")
    assert healthy


async def _status(api: Api, status: int) -> bool:
    return (await api.anonymous.get("/healthz")).status_code == status
