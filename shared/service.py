"""What every service process shares: MongoDB connection, health endpoint, and running under uvicorn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.config import ConnectionSettings, configure_logging
from shared.contracts.topics import ALL_TOPICS
from shared.eventstore.mongo import connect
from shared.messaging.kafka import ensure_topics

log = logging.getLogger(__name__)
HealthCheck = Callable[[], Awaitable[object]]


@dataclass
class Mongo:
    """A MongoDB client and the system's database."""

    client: AsyncMongoClient
    db: AsyncDatabase

    @classmethod
    def from_settings(cls, settings: ConnectionSettings) -> Mongo:
        """Connect lazily (the driver connects on first use)."""
        client = connect(settings.mongodb_uri)
        return cls(client, client[settings.mongodb_database])

    async def ping(self) -> object:
        """Round-trip to the server."""
        return await self.db.command("ping")


def broker_lifespan(
    settings: ConnectionSettings, mongo: Mongo, broker: KafkaBroker, prepare: Callable[[], Awaitable[object]]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Lifespan of a service that consumes Kafka: prepare its collections, create the topics, run the broker."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await prepare()
        await ensure_topics(settings, ALL_TOPICS)
        await broker.start()
        yield
        await broker.stop()
        await mongo.client.close()

    return lifespan


def health_router(
    service: str, checks: dict[str, HealthCheck], details: Callable[[], dict] | None = None
) -> APIRouter:
    """Return a router with GET /healthz: 200 when every check answers within 2 s, else 503."""
    router = APIRouter()

    @router.get("/healthz", tags=["health"], summary="Liveness and connections (no auth)")
    async def healthz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), 2.0)
                results[name] = "ok"
            except Exception as exc:  # a failing dependency is the answer, not an error
                results[name] = f"down: {type(exc).__name__}"
        healthy = all(v == "ok" for v in results.values())
        body = {"service": service, "status": "ok" if healthy else "degraded", "checks": results}
        body.update(details() if details else {})
        return JSONResponse(body, status_code=200 if healthy else 503)

    return router


def serve(app: FastAPI, host: str, port: int, log_level: str) -> None:
    """Run the app under uvicorn until SIGTERM or Ctrl-C, then shut down gracefully."""
    configure_logging(log_level)
    uvicorn.run(
        app, host=host, port=port, log_level=log_level.lower(), access_log=False, timeout_graceful_shutdown=5
    )
