"""The services' connection to the embedded SecantusDB survives the server closing idle connections."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from secantus import SecantusDBServer

from shared.devstack.servers import secantus_uri

pytestmark = pytest.mark.integration


async def test_a_write_after_the_server_closed_an_idle_connection_succeeds_without_the_drivers_retry(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = SecantusDBServer(storage_path=str(tmp_path), port=port, client_idle_timeout_s=1.5)
    server.start()
    uri = secantus_uri("127.0.0.1", port).replace("maxIdleTimeMS=60000", "maxIdleTimeMS=1000")
    client: AsyncMongoClient = AsyncMongoClient(uri)
    try:
        assert "retryWrites=false" in uri  # the write below gets no automatic second try
        await client.db.t.insert_one({"n": 1})
        await asyncio.sleep(2.5)  # the server has closed the idle connection by now
        await client.db.t.insert_one({"n": 2})
        assert await client.db.t.count_documents({}) == 2
    finally:
        await client.close()
        server.stop()
