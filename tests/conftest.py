"""Fixtures: real Tansu and SecantusDB processes on free ports, started by the launcher `make run` uses."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.devstack import servers
from shared.devstack.processes import Child, free_port
from shared.devstack.stack import SERVICES, Stack, StackConfig
from shared.eventstore.mongo import connect, ensure_indexes
from tests.api import Api


@dataclass
class Servers:
    """Running embedded servers and how to reach them."""

    kafka: Child
    mongo: Child
    kafka_port: int
    mongo_port: int
    workdir: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_uri(self) -> str:
        return servers.secantus_uri("127.0.0.1", self.mongo_port)


def start_servers(workdir: Path) -> Servers:
    """Start a Tansu and a SecantusDB on free ports under workdir."""
    kport, mport = free_port(), free_port()
    kafka = servers.start_and_wait(servers.tansu("127.0.0.1", kport, workdir / "logs"), "127.0.0.1", kport)
    mongo = servers.start_and_wait(
        servers.secantus("127.0.0.1", mport, workdir / "mongo", workdir / "logs"), "127.0.0.1", mport
    )
    return Servers(kafka, mongo, kport, mport, workdir)


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Real servers shared by the integration tests of one session."""
    s = start_servers(tmp_path_factory.mktemp("infra"))
    yield s
    s.kafka.stop()
    s.mongo.stop()


@pytest.fixture
async def mongo_db(infra: Servers) -> AsyncIterator[AsyncDatabase]:
    """A fresh database (with the event store's indexes) for one test."""
    client = connect(infra.mongo_uri)
    db = client[f"t_{uuid.uuid4().hex[:12]}"]
    await ensure_indexes(db)
    yield db
    await client.drop_database(db.name)
    await client.close()


TEST_RATE_PER_SECOND = "0"  # no per-key limit in test stacks
FEED_LONG_POLLS_PER_BUREAU = 3


def stack_config(workdir: Path) -> StackConfig:
    """A stack on free ports with its data under workdir."""
    return StackConfig(
        var_dir=workdir,
        kafka_port=free_port(),
        mongo_port=free_port(),
        ports={s.name: free_port() for s in SERVICES},
        log_level="WARNING",
        # Tests drive one key far harder than a person would (polling, bursts of 300 requests), and try wrong
        # keys from one address before fresh keys of their own; both limits are tested on the gateway alone
        # (tests/unit/test_gateway_rate_limit.py).
        service_env_overrides={
            "GATEWAY_RATE_PER_SECOND": TEST_RATE_PER_SECOND,
            "GATEWAY_REFUSED_CREDENTIALS_PER_SECOND": TEST_RATE_PER_SECOND,
            # Low enough that one key (the gateway lets a key hold 4) reaches the bureau's cap in a test.
            "CASEQUERY_FEED_LONG_POLLS_PER_BUREAU": str(FEED_LONG_POLLS_PER_BUREAU),
        },
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole system, started by the same launcher as `make run`, shared by non-destructive tests."""
    s = Stack(stack_config(tmp_path_factory.mktemp("stack"))).start()
    yield s
    s.stop()


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[Api]:
    """HTTP clients of the gateway, one per demo bureau."""
    async with Api.connect(stack) as clients:
        yield clients


@pytest.fixture
async def stack_db(stack: Stack) -> AsyncIterator[AsyncDatabase]:
    """The stack's own database, for checks the API does not expose (event counts, DLQ effects)."""
    client = connect(stack.config.mongo_uri)
    yield client[stack.config.database]
    await client.close()


@pytest.fixture
async def admin(stack: Stack, stack_db: AsyncDatabase) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh bureau of its own (its board, queue, lists and workbook hold only this test's) and a client of the
    gateway with its admin key; `client.bureau` is its id."""
    bureau_id = f"g{uuid.uuid4().hex[:8]}"
    await BureauDirectory(stack_db).register(Bureau(id=bureau_id, name_zh="测试局", name_en="Test bureau"))
    key = await ApiKeyStore(stack_db).issue(bureau_id, Role.ADMIN, "a test's own bureau")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as client:
        client.bureau = bureau_id  # type: ignore[attr-defined]
        yield client
