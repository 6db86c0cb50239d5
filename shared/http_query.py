"""Query strings are checked against what a route declares: an unknown name is a 422, never ignored.

Why: a misspelt filter (`?stauts=open`) that is silently dropped answers the unfiltered list, and a reader
takes it for the filtered one. The allowed names are read from the matched route's own declared query
parameters (its signature and its dependencies'), so the list can never drift from the signature.
Every service applies it to all its routes (RefuseUnknownQuery, added by shared.service.install_error_handlers):
a route without query parameters takes none. KNOWN_QUERY_ONLY, on the lists, checks the same from inside.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Depends, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.convertors import PathConvertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.auth.http import bearer, current_principal
from shared.auth.keys import Principal

MAX_NAMES_SHOWN = 20  # thousands of unknown names must not make the 422 itself a large answer
MAX_NAME_CHARACTERS = 64  # ... nor one name of a million characters
MANY = (list, set, tuple, frozenset)  # parameters declared with these take a name more than once


def _query_fields(dependant: Dependant) -> list[Any]:
    fields, pending = [], [dependant]
    while pending:
        current = pending.pop()
        fields.extend(current.query_params)
        pending.extend(current.dependencies)
    return fields


def declared_query_names(dependant: Dependant) -> frozenset[str]:
    """Return the query parameter names (aliases) a route or dependency declares, its dependencies' too."""
    return frozenset(field.alias for field in _query_fields(dependant))


def _takes_many(annotation: Any) -> bool:
    if get_origin(annotation) in MANY:
        return True
    return get_origin(annotation) in (Union, UnionType) and any(_takes_many(a) for a in get_args(annotation))


def repeated_single_names(single: frozenset[str], given: list[tuple[str, str]]) -> list[str]:
    """Return the single-valued parameters that the query string gives more than once."""
    counts = Counter(name for name, _ in given)
    return sorted(name for name in single if counts[name] > 1)


@dataclass(frozen=True)
class _QueryShape:
    declared: frozenset[str]  # every query parameter name the route takes
    single: frozenset[str]  # those that take one value
    authenticated: bool  # the route authenticates its caller (current_principal): a 401 comes first


_SHAPES: dict[int, tuple[Dependant, _QueryShape]] = {}  # by id(dependant); the dependant is kept alive


def _calls(dependant: Dependant) -> Iterator[Any]:
    pending = [dependant]
    while pending:
        current = pending.pop()
        yield current.call
        pending.extend(current.dependencies)


def _shape_of(dependant: Dependant) -> _QueryShape:
    # A route's parameters never change: walked once per route and kept, not on every request.
    kept = _SHAPES.get(id(dependant))
    if kept is not None and kept[0] is dependant:
        return kept[1]
    fields = _query_fields(dependant)
    single = frozenset(f.alias for f in fields if not _takes_many(f.field_info.annotation))
    authenticated = any(call is current_principal for call in _calls(dependant))
    shape = _QueryShape(frozenset(f.alias for f in fields), single, authenticated)
    _SHAPES[id(dependant)] = (dependant, shape)
    return shape


def _shown(name: str) -> str:
    return name if len(name) <= MAX_NAME_CHARACTERS else f"{name[:MAX_NAME_CHARACTERS]}…"


def unknown_query_problems(names: set[str], allowed: frozenset[str]) -> list[dict[str, Any]]:
    """Return the 422 detail for the names not allowed: at most MAX_NAMES_SHOWN, then how many more."""
    unknown = sorted(names - allowed)
    problems: list[dict[str, Any]] = [
        {
            "loc": ["query", _shown(name)],
            "msg": f"未知的查询参数 {_shown(name)!r} / unknown filter {_shown(name)!r}",
            "type": "extra_forbidden",
        }
        for name in unknown[:MAX_NAMES_SHOWN]
    ]
    if len(unknown) > MAX_NAMES_SHOWN:
        more = len(unknown) - MAX_NAMES_SHOWN
        problems.append(
            {
                "loc": ["query"],
                "msg": f"另有 {more} 个未知参数 / and {more} more unknown filters",
                "type": "extra_forbidden",
            }
        )
    return problems


async def refuse_unknown_query(request: Request, _: Annotated[Principal, Depends(current_principal)]) -> None:
    """Refuse a query string naming a parameter the matched route does not declare (422, per name)."""
    # It depends on the caller: an anonymous request is a 401 before its query string is looked at.
    # The names are the route's own (signature, `dependencies=`); no router here adds query parameters.
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):  # pragma: no cover - a dependency always runs inside a route
        return
    problems = query_problems(route.dependant, request.query_params.multi_items())
    if problems:
        raise HTTPException(422, problems)


def query_problems(dependant: Dependant, given: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Return the 422 detail for a query string: names the route does not declare, single ones repeated."""
    shape = _shape_of(dependant)
    problems = unknown_query_problems({name for name, _ in given}, shape.declared)
    # A filter given twice (`?status=open&status=closed`) would be answered for one of the two, silently.
    problems += [
        {"loc": ["query", name], "msg": f"只能给一次 / {name!r} given more than once", "type": "value_error"}
        for name in repeated_single_names(shape.single, given)
    ]
    return problems


# Put on a route: `@router.get(..., dependencies=[KNOWN_QUERY_ONLY])`.
KNOWN_QUERY_ONLY = Depends(refuse_unknown_query)


# -- Every route of every service: the check above, applied app-wide by install_error_handlers --


def matched_dependant(scope: Scope) -> Dependant | None:
    """Return the dependant of the FastAPI route that will answer scope (as included: its own and its routers')."""
    app = scope.get("app")
    for route in iter_route_contexts(getattr(app, "routes", [])):
        match, _ = route.matches(scope)
        if match != Match.FULL:
            continue
        if not isinstance(route.original_route, APIRoute):
            return None  # a mount or a plain Starlette route: not ours to read
        # A catch-all (`/{path:path}`, the gateway's proxy) hands its query string on to whoever answers it.
        if any(isinstance(c, PathConvertor) for c in (route.param_convertors or {}).values()):
            return None
        dependant: Dependant | None = route.dependant
        return dependant
    return None  # no route (404) or another method's (405): the router says so


class RefuseUnknownQuery:
    """ASGI middleware: a query string naming what the matched route does not declare is a 422.

    A route without query parameters takes none. The route's own (effective) dependant is the list, so it
    cannot drift from the signature; an anonymous caller of an authenticated route still gets its 401 first."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse or pass the request on."""
        if scope["type"] != "http" or not scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        dependant = matched_dependant(scope)
        request = Request(scope)
        problems = query_problems(dependant, request.query_params.multi_items()) if dependant else []
        if not dependant or not problems:
            await self.app(scope, receive, send)
            return
        refusal = await _authentication_refused(request) if _shape_of(dependant).authenticated else None
        await (refusal or JSONResponse({"detail": problems}, status_code=422))(scope, receive, send)


async def caller_refused(request: Request) -> Response | None:
    """Return the 401 (or 503) an authenticated route gives this request's caller, if it gives one; else None.

    Why: FastAPI reads a body before it runs the route's dependencies, so a body that is not JSON answered 422
    even to a caller without a valid key, who must learn first that the key is wrong (and an API gateway must
    not take that 422 as a sign the key works)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not _shape_of(route.dependant).authenticated:
        return None
    return await _authentication_refused(request)


async def _authentication_refused(request: Request) -> Response | None:
    # The same check (and answer) as the route's own dependency: the query is not looked at before it passes.
    try:
        await current_principal(request, await bearer(request))
    except Exception as exc:  # a 401, or MongoDB down: answered by the app's own handler for it
        handler = _handler_for(request, exc)
        if handler is None:
            raise
        answer = await handler(request, exc)
        assert isinstance(answer, Response)
        return answer
    return None


def _handler_for(request: Request, exc: Exception) -> Any | None:
    # Outside the app's ExceptionMiddleware, so its handlers (401 as FastAPI shows it, 503 + Retry-After) are
    # looked up here by the exception's class, most specific first.
    handlers = getattr(request.app, "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    if isinstance(exc, StarletteHTTPException):
        return http_exception_handler
    return None
