"""The gateway: one base URL for the whole API, proxying to whichever service answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from services import published
from services.gateway.routes import Route, resolve, route_table, upstreams
from services.gateway.settings import GatewaySettings

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
}


def build_app(settings: GatewaySettings) -> FastAPI:
    """Build the gateway app."""
    routes = route_table(settings)
    state: dict[str, httpx.AsyncClient] = {}
    documents: dict[str, dict] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        state["client"] = httpx.AsyncClient(timeout=settings.timeout_s, limits=limits)
        yield
        await state["client"].aclose()

    app = FastAPI(
        title="专责店小二 API gateway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        async def check(url: str) -> str:
            try:
                answer = await state["client"].get(f"{url}/healthz", timeout=3.0)
                return "ok" if answer.status_code == 200 else f"down: {answer.status_code}"
            except httpx.HTTPError as exc:
                return f"down: {type(exc).__name__}"

        names = upstreams(settings)
        results = dict(zip(names, await asyncio.gather(*(check(u) for u in names.values())), strict=True))
        healthy = all(v == "ok" for v in results.values())
        body = {"service": "gateway", "status": "ok" if healthy else "degraded", "checks": results}
        return JSONResponse(body, status_code=200 if healthy else 503)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        if "openapi" not in documents:
            documents["openapi"] = published.openapi()
        return JSONResponse(documents["openapi"])

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def proxy(path: str, request: Request) -> Response:
        route = resolve(routes, request.method, "/" + path)
        if route == "method":
            return JSONResponse({"detail": f"{request.method} is not allowed on /{path}"}, status_code=405)
        if not isinstance(route, Route):
            return JSONResponse({"detail": f"no API at /{path}"}, status_code=404)
        return await forward(state["client"], route, request)

    return app


async def forward(client: httpx.AsyncClient, route: Route, request: Request) -> Response:
    """Send the request to the route's upstream and relay the answer."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["x-forwarded-for"] = request.client.host if request.client else ""
    try:
        answer = await client.request(
            request.method,
            route.upstream + request.url.path,
            params=request.query_params,
            headers=headers,
            content=await request.body(),
        )
    except httpx.HTTPError as exc:
        return JSONResponse({"detail": f"service unavailable: {type(exc).__name__}"}, status_code=503)
    out_headers = {
        k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}
    }
    return Response(answer.content, status_code=answer.status_code, headers=out_headers)
