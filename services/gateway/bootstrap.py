"""The gateway: one base URL for the whole API, proxying to whichever service answers.

Limits (settings, env prefix GATEWAY_): a token bucket per API key (429 + Retry-After), a body size (413),
upstream timeouts and a connection pool (503 + Retry-After), and the feed's long polls per key (429) and in
all (503), on a pool of their own. Each answer carries a JSON `detail` saying why. Health probes have a
small client of their own too: a full pool must never make /healthz report healthy services as down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from services.gateway.limits import (
    LongPolls,
    RefusedCredentials,
    TokenBuckets,
    caller_key,
    issued_key,
    issued_token,
    refuses_credentials,
    retry_after,
)
from services.gateway.methods import (
    HTTP_METHODS,
    DocumentedPath,
    documented_path,
    documented_paths,
    published_openapi,
)
from services.gateway.proxy import (
    BodyTooLarge,
    forward,
    long_poll_wait,
    origin,
    read_body,
    unavailable,
    unless_gone,
)
from services.gateway.routes import Route, resolve, route_table, upstreams
from services.gateway.settings import GatewaySettings
from services.gateway.upstreams import SharedProbe, watch_instances
from shared.contracts.text import shown
from shared.service import install_error_handlers, instrument

MAX_TARGET_BYTES = 32 * 1024  # a path and query beyond this are refused (414): no route needs more


def build_app(settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """Build the gateway app; `transport` replaces the network in tests (a stub upstream)."""
    services = upstreams(settings)
    routes = route_table(settings, services)
    internal = frozenset(origin(httpx.URL(url)) for u in services.values() for url in u.urls)
    buckets = TokenBuckets(settings.rate_per_second, settings.rate_burst, settings.rate_keys)
    refused = RefusedCredentials(
        TokenBuckets(
            settings.refused_credentials_per_second, settings.refused_credentials_burst, settings.rate_keys
        ),
        settings.rate_keys,
    )
    long_polls = LongPolls(settings.long_polls_per_key, settings.long_polls_total)
    state: dict[str, httpx.AsyncClient] = {}
    paths: list[DocumentedPath] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=settings.max_connections, max_keepalive_connections=50)
        timeout = httpx.Timeout(
            settings.timeout_s, connect=settings.connect_timeout_s, pool=settings.pool_timeout_s
        )
        state["client"] = httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport)
        # Long polls wait on their own pool: however many are held, ordinary requests keep theirs.
        polls = httpx.Limits(max_connections=settings.long_polls_total, max_keepalive_connections=20)
        state["long_polls"] = httpx.AsyncClient(timeout=timeout, limits=polls, transport=transport)
        probes = httpx.Limits(max_connections=max(10, 2 * len(internal)), max_keepalive_connections=10)
        state["health"] = httpx.AsyncClient(timeout=3.0, limits=probes, transport=transport)
        paths[:] = documented_paths(published_openapi())
        watching = asyncio.create_task(watch_instances(state["health"], services.values()))
        yield
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        for client in state.values():
            await client.aclose()

    app = FastAPI(
        title="专责店小二 API gateway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    install_error_handlers(app, check_json_bodies=False)
    instrument(app)  # before the catch-all below, so that /metrics is the gateway's own

    async def probe_every_instance() -> dict[str, str]:
        async def check(url: str) -> str:
            try:
                answer = await state["health"].get(f"{url}/healthz", timeout=3.0)
            except httpx.HTTPError as exc:
                return f"down: {type(exc).__name__}"
            return "ok" if answer.status_code == 200 else f"degraded: {_failing_checks(answer)}"

        urls = [url for u in services.values() for url in u.urls]
        return dict(zip(urls, await asyncio.gather(*(check(url) for url in urls)), strict=True))

    probe_once = SharedProbe(probe_every_instance)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        found = await probe_once()
        results = {name: _service_health(u.urls, found, name in ALARMS_ONLY) for name, u in services.items()}
        # Healthy while each service has an instance that answers; the relay's alarms (a parked event, lag)
        # are shown, not failing: the API serves on, and a load balancer must not take it away for them.
        healthy = all(
            v.startswith("ok") or (name in ALARMS_ONLY and v.startswith("degraded"))
            for name, v in results.items()
        )
        body = {"service": "gateway", "status": "ok" if healthy else "degraded", "checks": results}
        return JSONResponse(body, status_code=200 if healthy else 503)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(published_openapi())

    @app.api_route("/{path:path}", methods=sorted(HTTP_METHODS), include_in_schema=False)
    async def proxy(path: str, request: Request) -> Response:
        if (too_long := _target_too_long(request)) is not None:
            return too_long
        authorization, address = _authorization(request), request.client.host if request.client else None
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        documented = documented_path(paths, raw_path)
        secured = documented is not None and request.method in documented.secured
        # A header on an operation that takes no key (sign-in, refresh) is not a key: bucketed by it, every
        # made-up value would be a fresh bucket and the address limit would never apply.
        key = caller_key(authorization if secured else None, address)
        held = refused.wait(key, f"addr:{address}") if authorization and secured else 0.0
        if held:
            return JSONResponse(
                {
                    "detail": "此地址被拒的凭据过多，请稍后再试 / too many refused credentials from this address: "
                    "only credentials that worked before are taken until it cools down; retry later"
                },
                status_code=429,
                headers={"Retry-After": retry_after(held)},
            )
        wait = buckets.take(key)
        if wait:
            return JSONResponse(
                {
                    "detail": f"请求过于频繁 / too many requests for this API key: at most "
                    f"{settings.rate_per_second:g} a second (bursts of {settings.rate_burst}); retry later"
                },
                status_code=429,
                headers={"Retry-After": retry_after(wait)},
            )
        undocumented = _undocumented(documented, raw_path, request)
        if undocumented is not None:
            return undocumented
        route = resolve(routes, request.method, "/" + path)
        if route == "method":
            return JSONResponse(
                {
                    "detail": f"此地址不支持 {request.method} 方法 / "
                    f"{request.method} is not allowed on /{shown(path, 200)}"
                },
                status_code=405,
            )
        if not isinstance(route, Route):
            return JSONResponse(
                {"detail": f"此地址没有接口 / no API at /{shown(path, 200)}"}, status_code=404
            )
        # Label the request metrics with the route table's entry, not the catch-all (bounded cardinality).
        request.scope["metrics_route"] = route.prefix if route.exact else f"{route.prefix}/…"
        try:
            body = await read_body(request, settings.max_body_bytes)
        except BodyTooLarge as exc:
            limit = settings.max_body_bytes
            return JSONResponse(
                {"detail": f"请求体过大 / request body too large ({exc}); the limit is {limit} bytes"},
                status_code=413,
            )
        wait_s = long_poll_wait(request, route)
        if wait_s:
            held_back = _long_polls_held_back(long_polls, key, settings)
            if held_back is not None:
                return held_back
        with long_polls.holding(key, wait_s) if wait_s else contextlib.nullcontext():
            client = state["long_polls" if wait_s else "client"]
            answering = forward(client, route, request, body, settings.retry_after_s, internal)
            answer = await unless_gone(request, answering)
        if answer is None:
            return Response(status_code=499)  # nobody listens: nginx's "client closed request", for metrics
        if authorization:
            _learn(refused, key, f"addr:{address}", authorization, secured, answer)
        token = issued_token(request.method, raw_path, answer.status_code, answer.body)
        if token is not None:
            refused.worked(issued_key(token))  # its first use must not wait for a crowded address's bucket
        return answer

    return app


def _target_too_long(request: Request) -> JSONResponse | None:
    """Answer 414 for a path and query longer than any route of the API needs (and than the upstream client
    takes: httpx refuses a URL component over 64 KiB); None: it may go."""
    query = request.scope.get("query_string", b"")
    size = len(request.scope.get("raw_path", b"")) + (len(query) + 1 if query else 0)  # the "?" counts too
    if size <= MAX_TARGET_BYTES:
        return None
    return JSONResponse(
        {"detail": f"请求地址过长 / the path and query are {size} bytes; at most {MAX_TARGET_BYTES}"},
        status_code=414,
    )


def _long_polls_held_back(long_polls: LongPolls, key: str, settings: GatewaySettings) -> JSONResponse | None:
    """Answer a long poll beyond the key's share (429) or beyond all keys' pool (503); None: it may go."""
    why = long_polls.refused(key)
    if why == "key":
        return JSONResponse(
            {
                "detail": f"此密钥同时等待的长轮询过多 / too many long polls in flight for this API key: at most "
                f"{settings.long_polls_per_key} at once; ask again once one has answered (see Retry-After)"
            },
            status_code=429,
            headers={"Retry-After": retry_after(long_polls.retry_after(key))},
        )
    if why == "total":
        seconds = int(retry_after(long_polls.retry_after()))
        return unavailable(
            f"too many long polls in flight ({settings.long_polls_total}); retry later", seconds
        )
    return None


# Refusals that come after the key was accepted. Not 404: a path a service does not route is a 404 before
# any key is checked.
PROVEN_BY = frozenset({403, 409})


def _learn(
    refused: RefusedCredentials, key: str, address: str, authorization: bytes, secured: bool, answer: Response
) -> None:
    """Learn from a service's answer whether the request's own credentials were refused or worked."""
    # From the raw headers: they keep the upstream's spelling (`WWW-Authenticate`), which Headers would miss.
    challenges = [v.decode("latin-1") for k, v in answer.raw_headers if k.lower() == b"www-authenticate"]
    if refuses_credentials(answer.status_code, challenges, authorization):
        refused.refused(key, address)
    elif secured and (answer.status_code < 400 or answer.status_code in PROVEN_BY):
        # Only an operation that takes the key proves it works: sign-in ignores it (its 401 is about the
        # password, its 200 or 429 says nothing of the header), and must not teach made-up keys. Nor does a
        # 400 or 422: a body that is not JSON is refused before the key is looked at.
        refused.worked(key)


def _undocumented(documented: DocumentedPath | None, raw_path: str, request: Request) -> JSONResponse | None:
    """Answer a path the API does not document (404) or a method it does not document there (405 + Allow)."""
    allowed = None if documented is None else documented.methods
    if allowed is None:
        if not raw_path.startswith("/api/"):
            return None  # not the API's (the gateway's own pages come before): answered as before
        return JSONResponse(
            {"detail": f"此地址没有接口 / no API at {shown(request.url.path, 200)}"}, status_code=404
        )
    if request.method in allowed:
        return None
    allow = ", ".join(sorted(allowed))
    return JSONResponse(
        {
            "detail": f"此地址不支持 {request.method} 方法，可用：{allow} / "
            f"{request.method} is not allowed on {shown(request.url.path, 200)}; allowed: {allow}"
        },
        status_code=405,
        headers={"Allow": allow},
    )


ALARMS_ONLY = frozenset(
    {"relay"}
)  # services whose /healthz answers 503 for an operator's alarm while they work


def _service_health(urls: tuple[str, ...], found: dict[str, str], alarms_only: bool = False) -> str:
    """Return how a service answers: its one instance's state, or how many of several answer (by number in the
    setting: /healthz takes no key, and internal addresses are never shown). With `alarms_only`, an instance
    answering "degraded" (an alarm for an operator, e.g. the relay's parked event) still answers."""
    if len(urls) == 1:
        return found[urls[0]]
    failing = [f"#{n} {found[url]}" for n, url in enumerate(urls, start=1) if found[url] != "ok"]
    if not failing:
        return "ok"
    serving = sum(
        1 for url in urls if found[url] == "ok" or (alarms_only and found[url].startswith("degraded"))
    )
    return f"{'ok' if serving else 'down'}: {serving} of {len(urls)} instances answer; " + "; ".join(failing)


def _authorization(request: Request) -> bytes | None:
    """Return the Authorization header as sent (bytes), or None."""
    return next((v for k, v in request.headers.raw if k.lower() == b"authorization"), None)


def _failing_checks(answer: httpx.Response) -> str:
    """Name what a service's /healthz says is down (e.g. "mongodb"), so the gateway's health names it too."""
    try:
        checks = answer.json().get("checks", {})
        failing = [f"{name} ({state})" for name, state in checks.items() if state != "ok"]
    except (ValueError, AttributeError):
        failing = []
    return ", ".join(failing) or f"HTTP {answer.status_code}"
