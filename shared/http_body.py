"""A JSON body naming one key twice is refused (422), never read as whichever copy the parser kept.

`{"allocated": "1", "allocated": "999"}` is valid JSON, and Python's parser keeps the last copy: a clerk's tool,
a proxy or an attacker could then show one amount and record another. No body of this API means anything by a
repeated key, so it is refused with the key named.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.json_keys import repeated_key, shown

WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# Bodies up to this size are checked (the gateway refuses larger ones with 413 before they reach a service); a
# larger one is passed on unchecked as it streams, never held whole here.
CHECKED_BYTES = 2 * 1024 * 1024


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


class RefuseDuplicateJsonKeys:
    """ASGI middleware: a JSON request body with a repeated key in any object is a 422 naming the key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a JSON body, then pass the request on with the body as it came."""
        if scope["type"] != "http" or scope["method"] not in WITH_BODY or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages, body, whole = await _read_body(receive)
        found = repeated_key(body) if whole else None
        if found is not None:
            key = shown(found)
            msg = f"请求体中的键 {key!r} 出现了不止一次 / the key {key!r} appears more than once in the body"
            answer = JSONResponse(
                {"detail": [{"loc": ["body", key], "msg": msg, "type": "value_error"}]}, 422
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)


async def _read_body(receive: Receive) -> tuple[list[Message], bytes, bool]:
    """Return the messages read, the body they hold and whether that is the whole body (not past the cap)."""
    messages, chunks, size = [], [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, b"", False  # the client went away: the app sees it as it would have
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if not message.get("more_body", False):
            return messages, b"".join(chunks), True
        if size > CHECKED_BYTES:
            return messages, b"", False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
