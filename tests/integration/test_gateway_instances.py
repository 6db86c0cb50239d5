"""Two case-query instances behind the gateway (real stack): reads go on while one of them is killed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.devstack.processes import free_port
from shared.devstack.stack import Stack
from tests.api import Api
from tests.conftest import stack_config
from tests.support import case_body

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_readers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = stack_config(Path(tmp_path_factory.mktemp("readers")))
    second = free_port()
    both = f"{config.url('casequery')},http://127.0.0.1:{second}"
    config.service_env_overrides["GATEWAY_CASEQUERY_URL"] = both
    stack = Stack(config).start()
    try:
        stack.start_service("casequery", instance="-2", port=second)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
async def api(two_readers: Stack) -> AsyncIterator[Api]:
    async with Api.connect(two_readers) as clients:
        yield clients


async def test_reads_are_answered_while_one_of_two_case_query_instances_is_down(two_readers, api) -> None:
    opened = await api.finance.post("/api/v1/cases", json=case_body(9101))
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    await api.wait_for_case(case_id)

    async def read_ten() -> list[int]:
        return [(await api.finance.get(f"/api/v1/cases/{case_id}")).status_code for _ in range(10)]

    assert await read_ten() == [200] * 10
    two_readers.services["casequery"].kill()
    assert await read_ten() == [200] * 10  # none reached the killed one, or each moved on to the other
    health = (await api.anonymous.get("/healthz")).json()
    assert health["status"] == "ok"
    assert health["checks"]["casequery"].startswith("ok: 1 of 2 instances answer")
    two_readers.services["casequery-2"].kill()
    down = await api.finance.get(f"/api/v1/cases/{case_id}")
    assert down.status_code == 503 and down.headers["Retry-After"]
    two_readers.start_service("casequery")
    assert await read_ten() == [200] * 10
