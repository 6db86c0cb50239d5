"""Metrics: HTTP requests by route template and status, MongoDB commands by name and collection, Kafka records."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, HTTPException

from shared.metrics import HttpMetrics, MongoCommandMetrics, metrics_router, new_metrics, samples


def _app():
    source = new_metrics()
    app = FastAPI()

    @app.get("/api/v1/cases/{case_id}")
    async def one(case_id: str) -> dict[str, str]:
        if case_id == "missing":
            raise HTTPException(404, "no such case")
        return {"case_id": case_id}

    app.add_middleware(HttpMetrics, source=source)
    app.include_router(metrics_router(source))
    return app, source


async def test_requests_are_counted_by_route_template_and_status_never_by_id():
    app, source = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for case_id in ("a", "b", "missing"):
            await client.get(f"/api/v1/cases/{case_id}")
        await client.get("/nowhere")
        text = (await client.get("/metrics")).text
    counted = samples(source, "http_requests_total")
    route = ("route", "/api/v1/cases/{case_id}")
    assert counted[(("method", "GET"), route, ("status", "200"))] == 2
    assert counted[(("method", "GET"), route, ("status", "404"))] == 1
    assert counted[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] == 1
    assert (
        'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/cases/{case_id}"}'
        in text
    )


class _Event:
    def __init__(self, name: str, command: dict, micros: int = 1500, request_id: int = 1) -> None:
        self.command_name, self.command, self.duration_micros = name, command, micros
        self.request_id, self.connection_id = request_id, ("127.0.0.1", 27017)


def test_mongodb_commands_are_counted_by_name_and_collection_and_timed():
    source = new_metrics()
    listener = MongoCommandMetrics(source)
    listener.started(_Event("find", {"find": "case_view", "filter": {}}, request_id=1))  # type: ignore[arg-type]
    listener.started(_Event("getMore", {"getMore": 1, "collection": "events"}, request_id=2))  # type: ignore[arg-type]
    listener.started(_Event("insert", {"insert": "events"}, request_id=3))  # type: ignore[arg-type]
    listener.succeeded(_Event("find", {}, request_id=1))  # type: ignore[arg-type]
    listener.failed(_Event("insert", {}, request_id=3))  # type: ignore[arg-type]
    counted = samples(source, "mongodb_commands_total")
    assert counted[(("collection", "case_view"), ("command", "find"))] == 1
    assert counted[(("collection", "events"), ("command", "getMore"))] == 1
    assert samples(source, "mongodb_command_failures_total")[(("command", "insert"),)] == 1
    timed = samples(source, "mongodb_command_duration_seconds_count")
    assert timed[(("collection", "case_view"), ("command", "find"))] == 1
    assert timed[(("collection", "events"), ("command", "insert"))] == 1


def test_a_read_model_rebuilt_into_a_new_generation_is_counted_under_its_own_name():
    source = new_metrics()
    listener = MongoCommandMetrics(source)
    listener.started(_Event("update", {"update": "case_view__g3", "updates": []}))  # type: ignore[arg-type]
    listener.started(_Event("find", {"find": "case_story__g12"}))  # type: ignore[arg-type]
    counted = samples(source, "mongodb_commands_total")
    assert counted[(("collection", "case_view"), ("command", "update"))] == 1
    assert counted[(("collection", "case_story"), ("command", "find"))] == 1
