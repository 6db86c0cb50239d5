"""A command that loses to concurrent changes answers 409 in the service's JSON shape, never a bare 500."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from shared.eventstore.recorder import ConcurrencyError
from shared.service import install_error_handlers


async def test_a_stream_that_moved_on_answers_409_asking_to_read_again_and_retry() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/step")
    async def step() -> None:
        raise ConcurrencyError("case-1", 3, 4)

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/step")
    assert answer.status_code == 409 and answer.headers["content-type"] == "application/json"
    assert answer.json()["detail"].startswith(
        "记录已被其他操作修改，请重新读取后重试 / the record changed meanwhile"
    )
