"""Forwarding one request upstream exactly as received, and relaying the answer.

Why raw: the path and query are forwarded as the bytes the caller sent (`scope["raw_path"]`), and headers
as bytes. Rebuilding them from the decoded forms re-encodes them into something else (a `%17` decoded to a
control character is refused by httpx; `来访-001` in a header fails to encode as ASCII): the upstream must
see what the caller sent, and answer it itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

import httpx
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from services.gateway.routes import FEED_MAX_WAIT_S, Route

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
)
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Answer headers holding a URL the upstream may have built from the address the gateway reached it at.
URL_HEADERS = frozenset({"location", "content-location"})
Origin = tuple[str, str, int | None]  # scheme, host, port (None: the scheme's default)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Bytes kept as they are in a forwarded path: printable ASCII (existing %XX escapes stay untouched).
_PRINTABLE = frozenset(range(0x21, 0x7F))


class BodyTooLarge(Exception):
    """The request body is larger than the gateway accepts."""


def raw_target(request: Request) -> bytes:
    """Return the path and query as received; stray non-ASCII bytes are %-escaped (the same once decoded)."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    target = raw_path + (b"?" + query if query else b"")
    return b"".join(bytes([b]) if b in _PRINTABLE else b"%%%02X" % b for b in target)


async def read_body(request: Request, limit: int) -> bytes:
    """Return the body, or raise BodyTooLarge as soon as it exceeds limit (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"Content-Length {declared}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def long_poll_wait(request: Request, route: Route) -> float:
    """Return how long the request may hold its upstream connection waiting for events (0: not a long poll)."""
    if not route.long_poll:
        return 0.0
    longest = 0.0
    for value in request.query_params.getlist("wait"):
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0  # refused upstream at once; counted as the longest meanwhile
        if seconds != 0:  # NaN and negatives too: only a plain 0 is not a long poll
            longest = max(longest, seconds if 0 < seconds <= FEED_MAX_WAIT_S else FEED_MAX_WAIT_S)
    return longest


async def _disconnected(request: Request) -> None:
    # Once the body has been read, the server's next message is http.disconnect: the caller went away.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_gone(request: Request, answering: Awaitable[Response]) -> Response | None:
    """Return the upstream's answer, or None as soon as the caller disconnects: the upstream request is then
    cancelled, which closes its connection, so the upstream stops working for nobody and the pool has it."""
    work, gone = asyncio.ensure_future(answering), asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait((work, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work  # httpx closes the connection as the cancellation unwinds
    return work.result() if work in done else None


def _retryable(method: str, headers: list[tuple[bytes, bytes]], exc: httpx.HTTPError) -> bool:
    """Tell whether one more try is safe: nothing was sent, or sending twice changes nothing."""
    if isinstance(exc, httpx.ConnectError):
        return True  # the connection was never made: the upstream saw nothing
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        # Typically a pooled keep-alive connection the upstream closed while idle.
        return method in IDEMPOTENT or any(k.lower() == b"idempotency-key" for k, _ in headers)
    return False


def _timeout(client: httpx.AsyncClient, route: Route) -> httpx.Timeout:
    """Return the client's timeouts, with the route's own time to answer when it has one (a long poll)."""
    if route.timeout_s is None:
        return client.timeout
    return httpx.Timeout(route.timeout_s, connect=client.timeout.connect, pool=client.timeout.pool)


def unavailable(reason: str, retry_after_s: int) -> JSONResponse:
    """Return the 503 that tells the caller to come back later."""
    return JSONResponse(
        {"detail": f"服务暂不可用，请稍后重试 / service unavailable: {reason}"},
        status_code=503,
        headers={"Retry-After": str(retry_after_s)},
    )


def origin(url: httpx.URL) -> Origin:
    """Return the scheme, host and port of an absolute URL, a default port as None (`http://a:80` is `http://a`)."""
    port = None if url.port == _DEFAULT_PORTS.get(url.scheme) else url.port
    return (url.scheme, url.host, port)


def public_location(value: bytes, internal: frozenset[Origin]) -> bytes | None:
    """Return a Location that names no service behind the gateway: an upstream's own address is cut off,
    leaving a path on the gateway; None (drop the header) when it cannot even be parsed."""
    try:
        url = httpx.URL(value.decode("latin-1"))
    except httpx.InvalidURL:
        return None
    if url.is_relative_url or origin(url) not in internal:
        return value  # a path on the gateway already, or another site
    return url.raw_path + (b"#" + url.fragment.encode() if url.fragment else b"")


def _relayed_headers(answer: httpx.Response, internal: frozenset[Origin]) -> list[tuple[bytes, bytes]]:
    """Return the answer's headers to pass on: no hop-by-hop ones, no internal address in a URL."""
    # httpx has already decoded the content; the gateway's own server writes Date and Server (once each).
    drop = HOP_BY_HOP | {"content-encoding", "date", "server"}
    relayed = []
    for key, value in answer.headers.raw:
        name = key.lower().decode("latin-1")
        if name in drop:
            continue
        kept = public_location(value, internal) if name in URL_HEADERS else value
        if kept is not None:
            relayed.append((key, kept))
    return relayed


async def forward(
    client: httpx.AsyncClient,
    route: Route,
    request: Request,
    body: bytes,
    retry_after_s: int,
    internal: frozenset[Origin],
) -> Response:
    """Send the request to an instance of the route's service (another try when safe) and relay the answer;
    `internal` are the upstreams' origins, never shown to the caller."""
    headers = [(k, v) for k, v in request.headers.raw if k.lower().decode("latin-1") not in HOP_BY_HOP]
    headers.append((b"x-forwarded-for", (request.client.host if request.client else "").encode()))
    timeout = _timeout(client, route)
    instances = route.upstream.order()
    # One instance: a second try on it (a pooled connection it closed while idle); several: each once.
    tries = instances if len(instances) > 1 else instances * 2
    for attempt, base in enumerate(tries, start=1):
        url = httpx.URL(base).copy_with(raw_path=raw_target(request))
        outgoing = client.build_request(request.method, url, headers=headers, content=body, timeout=timeout)
        try:
            answer = await client.send(outgoing)
        except httpx.HTTPError as exc:
            unreached = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)  # nothing reached it
            if not isinstance(exc, httpx.PoolTimeout):  # down, hung or dropping: the others go first a while
                route.upstream.set_aside(base)
            last = attempt == len(tries)
            if isinstance(exc, httpx.TimeoutException) and (last or not unreached or len(instances) == 1):
                # It may have been acted on (or, alone, it would take as long again): never sent again.
                late = type(exc).__name__
                return unavailable(f"the service did not answer in time ({late})", retry_after_s)
            if last or not (unreached or _retryable(request.method, headers, exc)):
                return unavailable(f"the service is unreachable ({type(exc).__name__})", retry_after_s)
            continue
        relayed = Response(answer.content, status_code=answer.status_code)
        relayed.raw_headers.extend(_relayed_headers(answer, internal))
        return relayed
    raise AssertionError("unreachable: the last try returns")
