"""What every service process shares: MongoDB connection, health endpoint, error safety net, uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import bson.errors
import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo import errors as mongo_errors
from pymongo.asynchronous.database import AsyncDatabase
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.config import ConnectionSettings, configure_logging
from shared.contracts.topics import ALL_TOPICS
from shared.eventstore.recorder import ConcurrencyError, EventTooLarge
from shared.http_body import RefuseDuplicateJsonKeys
from shared.http_query import RefuseUnknownQuery, caller_refused
from shared.messaging.kafka import ensure_topics
from shared.metrics import HttpMetrics, MongoCommandMetrics, metrics_router

log = logging.getLogger(__name__)
HealthCheck = Callable[[], Awaitable[object]]


@dataclass
class Mongo:
    """A MongoDB client and the system's database."""

    client: AsyncMongoClient
    db: AsyncDatabase

    @classmethod
    def from_settings(cls, settings: ConnectionSettings) -> Mongo:
        """Connect lazily (the driver connects on first use); fail fast while the server is down."""
        timeout_ms = settings.mongodb_server_selection_timeout_ms
        client: AsyncMongoClient = AsyncMongoClient(
            settings.mongodb_uri,
            tz_aware=True,  # as shared.eventstore.mongo.connect: datetimes read back aware (UTC)
            tzinfo=UTC,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            event_listeners=[MongoCommandMetrics()],  # mongodb_commands_total by command and collection
        )
        return cls(client, client[settings.mongodb_database])

    async def ping(self) -> object:
        """Round-trip to the server."""
        return await self.db.command("ping")


def instrument(app: FastAPI) -> None:
    """Count and time every HTTP request and serve GET /metrics (Prometheus text format)."""
    app.add_middleware(HttpMetrics)
    app.include_router(metrics_router())


def broker_lifespan(
    settings: ConnectionSettings, mongo: Mongo, broker: KafkaBroker, prepare: Callable[[], Awaitable[object]]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Lifespan of a service that consumes Kafka: prepare its collections, create the topics, run the broker."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await prepare()
        await ensure_topics(settings, ALL_TOPICS)
        await broker.connect()
        # Consumer groups admit a member in seconds, and after a crash only once the dead member's session
        # has lapsed (~20 s): the HTTP API serves meanwhile, and the consumers catch up from their offsets.
        app.state.consumers = "joining"  # /healthz says so until every consumer holds its place in its group
        joining = asyncio.create_task(broker.start())
        joining.add_done_callback(_stop_unless_joined)
        joining.add_done_callback(lambda task: _note_joined(app, task))
        yield
        joining.remove_done_callback(_stop_unless_joined)
        joining.cancel()
        # Cancelled here, or failed and logged already (the service is stopping because of it).
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await joining
        try:
            await broker.stop()
        finally:
            await mongo.client.close()

    return lifespan


def _note_joined(app: FastAPI, joining: asyncio.Task[None]) -> None:
    if not joining.cancelled() and joining.exception() is None:
        app.state.consumers = "running"


def _stop_unless_joined(joining: asyncio.Task[None]) -> None:
    # A service whose consumers cannot start must not run on serving HTTP alone: it stops (SIGTERM, a clean
    # shutdown), and its supervisor (compose, the launcher) starts it again.
    if not joining.cancelled() and joining.exception() is not None:
        log.critical("the Kafka consumers did not start; stopping", exc_info=joining.exception())
        os.kill(os.getpid(), signal.SIGTERM)


def health_router(
    service: str, checks: dict[str, HealthCheck], details: Callable[[], dict] | None = None
) -> APIRouter:
    """Return a router with GET /healthz: 200 when every check answers within 2 s, else 503."""
    router = APIRouter()

    @router.get("/healthz", tags=["health"], summary="Liveness and connections (no auth)")
    async def healthz(request: Request) -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), 2.0)
                results[name] = "ok"
            except Exception as exc:  # a failing dependency is the answer, not an error
                results[name] = f"down: {type(exc).__name__}"
        healthy = all(v == "ok" for v in results.values())
        body: dict[str, object] = {
            "service": service,
            "status": "ok" if healthy else "degraded",
            "checks": results,
        }
        # A service that consumes Kafka: "joining" while its consumers wait to be admitted to their groups (after a
        # crash, until the dead member's session lapses), then "running". HTTP serves meanwhile.
        if (consumers := getattr(request.app.state, "consumers", None)) is not None:
            body["consumers"] = consumers
        body.update(details() if details else {})
        return JSONResponse(body, status_code=200 if healthy else 503)

    return router


def serve(app: FastAPI, host: str, port: int, log_level: str, forwarded_allow_ips: str = "") -> None:
    """Run the app under uvicorn until SIGTERM or Ctrl-C, then shut down gracefully."""
    configure_logging(log_level)
    # The client address counts (sign-in lockout and refused credentials are per address): uvicorn would take it
    # from any X-Forwarded-For sent from 127.0.0.1, so a local caller could choose its own. Only proxies named
    # here (the gateway's load balancer) are believed; behind the gateway, services read the entry it appends.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=5,
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=forwarded_allow_ips or None,
    )


# -- The safety net: whatever a caller sends, the answer is a clear 4xx or a 503, never a bare 500. --

RETRY_AFTER_S = 5  # what a 503 asks the caller to wait; MongoDB's server selection fails within a few seconds


def _printable(text: str) -> str:
    """Return text that encodes as UTF-8: a lone surrogate echoed back would itself fail the answer."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _problem(status: int, loc: list[str], msg: str, kind: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": loc, "msg": _printable(msg), "type": kind}]}, status_code=status, headers=headers
    )


# Pydantic's error types -> the Chinese said before its English msg; {name} is taken from the error's ctx.
_DATE = "须为有效日期，格式 YYYY-MM-DD"
_DATETIME = "须为有效的日期时间（ISO 8601）"
_OBJECT = "须为 JSON 对象"
VALIDATION_IN_CHINESE: dict[str, str] = {
    "missing": "字段必填",
    "extra_forbidden": "不接受此字段",
    "string_type": "须为字符串",
    "string_too_short": "长度至少为 {min_length} 个字符",
    "string_too_long": "长度不得超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不符合要求",
    "string_unicode": "须为有效的 Unicode 文本",
    "greater_than": "须大于 {gt}",
    "greater_than_equal": "须大于或等于 {ge}",
    "less_than": "须小于 {lt}",
    "less_than_equal": "须小于或等于 {le}",
    "multiple_of": "须为 {multiple_of} 的倍数",
    "finite_number": "须为有限的数值",
    "int_type": "须为整数",
    "int_parsing": "须为整数",
    "int_from_float": "须为整数，不能带小数",
    "float_type": "须为数字",
    "float_parsing": "须为数字",
    "decimal_type": "须为十进制数",
    "decimal_parsing": "须为十进制数",
    "bool_type": "须为布尔值（true 或 false）",
    "bool_parsing": "须为布尔值（true 或 false）",
    "enum": "须为以下值之一：{expected}",
    "literal_error": "须为以下值之一：{expected}",
    "json_invalid": "JSON 格式无效",
    "json_type": "须为 JSON 文本",
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": "须为日期，不含时间",
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "timezone_aware": "须带时区",
    "time_type": "须为有效的时刻",
    "time_parsing": "须为有效的时刻",
    "uuid_type": "须为有效的 UUID",
    "uuid_parsing": "须为有效的 UUID",
    "url_type": "须为有效的网址",
    "url_parsing": "须为有效的网址",
    "list_type": "须为列表（JSON 数组）",
    "dict_type": _OBJECT,
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "none_required": "须为 null",
}
_INVALID_IN_CHINESE = "输入无效"  # a type not in the map: still a Chinese sentence before pydantic's English
_CHINESE = re.compile(r"[\u3400-\u9fff]")


def bilingual_validation_msg(kind: str, msg: str, ctx: Mapping[str, Any] | None = None) -> str:
    """Pydantic's English msg with a Chinese sentence first ("字段必填 / Field required"), once only."""
    template = VALIDATION_IN_CHINESE.get(kind)
    if kind == "value_error" and _CHINESE.search(msg):  # our own validator's refusal: it starts in Chinese
        return msg.removeprefix("Value error, ")
    # Pydantic writes its own msgs in English: Chinese inside one is an echoed value (an enum's options), so
    # only a msg starting in Chinese is translated already. Other types (value_error) carry our validators'
    # refusals, bilingual when they hold any Chinese at all.
    if _CHINESE.match(msg) if template else _CHINESE.search(msg):
        return msg
    template = template or _INVALID_IN_CHINESE
    values = dict(ctx or {})
    if isinstance(values.get("expected"), str):  # "'a', 'b' or 'c'" -> "'a'、'b'、'c'"
        values["expected"] = values["expected"].replace("', '", "'、'").replace("' or '", "'、'")
    try:
        chinese = template.format_map(values)
    except (KeyError, IndexError, ValueError, TypeError):  # a ctx without the number the sentence needs
        chinese = _INVALID_IN_CHINESE
    return f"{chinese} / {msg}"


async def _invalid_request(request: Request, exc: Exception) -> Response:
    # FastAPI's own handler echoes the input, which fails to encode when it holds a lone surrogate.
    assert isinstance(exc, RequestValidationError)
    if (refusal := await caller_refused(request)) is not None:
        return refusal  # a wrong key is told first, whatever the body
    detail = []
    for error in exc.errors():
        kind = str(error.get("type", "value_error"))
        msg = bilingual_validation_msg(kind, str(error.get("msg", "invalid")), error.get("ctx"))
        detail.append(
            {
                "loc": [p if isinstance(p, int) else _printable(str(p)) for p in error.get("loc", ())],
                "msg": _printable(msg),
                "type": kind,
            }
        )
    return JSONResponse({"detail": detail}, status_code=422)


# FastAPI's answer when it cannot read a body at all (not UTF-8, say): malformed JSON is a 422 there.
_UNREADABLE_BODY = "There was an error parsing the body"


async def _http_error(request: Request, exc: Exception) -> Response:
    """Answer an HTTPException as FastAPI does, except a body it could not read: a 422 like malformed JSON."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY:
        if (refusal := await caller_refused(request)) is not None:
            return refusal
        problem = {
            "loc": ["body"],
            "msg": "请求体须为 UTF-8 编码的 JSON / the body must be JSON in UTF-8",
            "type": "json_invalid",
        }
        return JSONResponse({"detail": [problem]}, status_code=422)
    return await http_exception_handler(request, exc)


async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    # A number beyond 8 bytes (BSON int64) or a date past year 9999 can only come from the input.
    return _problem(
        422, ["body"], f"数值或日期超出范围 / a number or date is out of range: {exc}", "out_of_range"
    )


async def _not_storable(request: Request, exc: Exception) -> JSONResponse:
    return _problem(422, ["body"], f"内容无法保存 / the input cannot be stored: {exc}", "not_storable")


async def _not_unicode(request: Request, exc: Exception) -> JSONResponse:
    return _problem(422, ["body"], "文本不是有效的 Unicode / text is not valid Unicode", "not_unicode")


async def _too_large(request: Request, exc: Exception) -> JSONResponse:
    return _problem(413, ["body"], f"内容过大 / the request is too large to record: {exc}", "too_large")


async def _changed_meanwhile(request: Request, exc: Exception) -> JSONResponse:
    # A command that lost every retry to concurrent changes (or found its stream blocked): retry it.
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {
            "detail": "记录已被其他操作修改，请重新读取后重试 / the record changed meanwhile: read it again and retry"
        },
        status_code=409,
    )


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("MongoDB unavailable for %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return JSONResponse(
        {
            "detail": f"数据库暂不可用，请稍后重试 / MongoDB is unavailable ({type(exc).__name__}); retry later"
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def control_character_in(text: str) -> str | None:
    """Return the first control (or non-character) code point of text as U+XXXX, or None."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs") or ch in "\ufffe\uffff":
            return f"U+{ord(ch):04X}"
    return None


class RefuseControlCharactersInPath:
    """ASGI middleware: a path whose decoded form holds a control character is refused with 400 and why.

    No id of this system holds one, and such text would otherwise reach MongoDB, logs and proxies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse or pass the request on."""
        if scope["type"] == "http":
            found = control_character_in(scope.get("path", ""))
            if found:
                reason = f"路径含控制字符 / the path holds the control character {found}"
                await JSONResponse({"detail": reason}, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI, *, check_json_bodies: bool = True) -> None:
    """Map hostile or unstorable input to 4xx, a database outage to 503 + Retry-After; every service calls it
    (the gateway without reading JSON bodies: the service behind it checks them)."""
    # No 307 from /x/ to /x: its Location names the address the service was reached at, an internal port
    # behind the gateway. A trailing slash is just an unknown path (404), as the README's routes have none.
    app.router.redirect_slashes = False
    # Every route's query string is checked (README: an unknown name is a 422, never ignored), inside the
    # path check below, so a path holding a control character is refused first.
    if check_json_bodies:
        app.add_middleware(
            RefuseDuplicateJsonKeys
        )  # innermost: a body is read only for a request passed so far
    app.add_middleware(RefuseUnknownQuery)
    app.add_middleware(RefuseControlCharactersInPath)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(bson.errors.InvalidDocument, _not_storable)
    app.add_exception_handler(bson.errors.InvalidStringData, _not_storable)
    app.add_exception_handler(UnicodeEncodeError, _not_unicode)
    app.add_exception_handler(mongo_errors.DocumentTooLarge, _too_large)
    app.add_exception_handler(mongo_errors.ConnectionFailure, _database_down)  # incl. server selection
    app.add_exception_handler(mongo_errors.ExecutionTimeout, _database_down)
    app.add_exception_handler(mongo_errors.WTimeoutError, _database_down)
    app.add_exception_handler(EventTooLarge, _too_large)
    app.add_exception_handler(ConcurrencyError, _changed_meanwhile)
