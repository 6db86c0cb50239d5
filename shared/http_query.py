"""Query strings are checked against what a route declares: an unknown name is a 422, never ignored.

Why: a misspelt filter (`?stauts=open`) that is silently dropped answers the unfiltered list, and a reader
takes it for the filtered one. The allowed names are read from the matched route's own declared query
parameters (its signature and its dependencies'), so the list can never drift from the signature.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Depends, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from shared.auth.http import current_principal
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


def _shape_of(route: APIRoute) -> _QueryShape:
    # A route's parameters never change: walked once per route and kept on it, not on every request.
    shape: _QueryShape | None = getattr(route, "_query_shape", None)
    if shape is None:
        fields = _query_fields(route.dependant)
        single = frozenset(f.alias for f in fields if not _takes_many(f.field_info.annotation))
        shape = _QueryShape(frozenset(f.alias for f in fields), single)
        route._query_shape = shape  # type: ignore[attr-defined]
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
    shape = _shape_of(route)
    problems = unknown_query_problems(set(request.query_params), shape.declared)
    # A filter given twice (`?status=open&status=closed`) would be answered for one of the two, silently.
    problems += [
        {"loc": ["query", name], "msg": f"只能给一次 / {name!r} given more than once", "type": "value_error"}
        for name in repeated_single_names(shape.single, request.query_params.multi_items())
    ]
    if problems:
        raise HTTPException(422, problems)


# Put on a route: `@router.get(..., dependencies=[KNOWN_QUERY_ONLY])`.
KNOWN_QUERY_ONLY = Depends(refuse_unknown_query)
