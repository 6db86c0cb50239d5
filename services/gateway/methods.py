"""The methods the published API documents at each path: the gateway answers the others itself.

Why: a path may be served by two services (GET /api/v1/cases by case query, POST by intake), so an upstream's
own 405 would name only its methods; and a path the API does not document is a 404 whatever the method. The
table is built from the same OpenAPI document the gateway publishes, so it cannot drift from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from services import published

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
_PARAMETER = re.compile(r"\\\{[^/]+?\\\}")  # an escaped `{name}`: one path segment, or part of one
_WHOLE_PARAMETER = re.compile(r"\{[^/{}]+\}")  # a template segment that is one parameter and nothing else


@dataclass(frozen=True)
class DocumentedPath:
    """One path template of the API, the methods it documents, and those that take the caller's key."""

    pattern: re.Pattern[str]
    methods: frozenset[str]
    rank: tuple[int, ...] = ()  # per segment: 2 literal, 1 partly a parameter, 0 a parameter
    secured: frozenset[str] = frozenset()  # methods whose operation requires bearer credentials


def documented_paths(openapi: dict[str, Any]) -> list[DocumentedPath]:
    """Return every path template of an OpenAPI document with its methods."""
    table = []
    default_security = openapi.get("security")
    for template, operations in openapi.get("paths", {}).items():
        # A parameter never holds an encoded slash or backslash: the service would decode it into another
        # path (`/cases/a%2Fb` is `/cases/a/b` there, a 404 before any key is checked), not this one.
        regex = _PARAMETER.sub(r"(?:(?!%2[fF]|%5[cC])[^/])+", re.escape(template))
        methods = frozenset(m.upper() for m in operations if m.upper() in HTTP_METHODS)
        secured = frozenset(
            m.upper()
            for m, op in operations.items()
            if m.upper() in HTTP_METHODS and isinstance(op, dict) and op.get("security", default_security)
        )
        rank = tuple(_segment_rank(segment) for segment in template.split("/"))
        table.append(DocumentedPath(re.compile(f"{regex}$"), methods, rank, secured))
    return table


def _segment_rank(segment: str) -> int:
    """Rank a template segment: a literal one is more specific than one holding a parameter."""
    if "{" not in segment:
        return 2
    return 0 if _WHOLE_PARAMETER.fullmatch(segment) else 1


def documented_path(table: list[DocumentedPath], raw_path: str) -> DocumentedPath | None:
    """Return the documented path a path as sent (percent-encoded) is, or None when none matches it."""
    # Templates may overlap (/api/v1/staff/leave-check and /api/v1/staff/{staff_id}): as in the services'
    # routers, the literal segment wins at the first segment where they differ, so the path is leave-check
    # and a `staff_id` that can never exist does not lend it its methods.
    found = [entry for entry in table if entry.pattern.match(raw_path)]
    if not found:
        return None
    best = max(entry.rank for entry in found)
    tied = [entry for entry in found if entry.rank == best]
    if len(tied) == 1:
        return tied[0]
    return DocumentedPath(  # equally specific (not in the published API): either may take it
        tied[0].pattern,
        frozenset().union(*(e.methods for e in tied)),
        best,
        frozenset().union(*(e.secured for e in tied)),
    )


def allowed_methods(table: list[DocumentedPath], raw_path: str) -> frozenset[str] | None:
    """Return the methods documented at a path as sent (percent-encoded), or None when none is documented."""
    entry = documented_path(table, raw_path)
    return None if entry is None else entry.methods


@cache
def published_openapi() -> dict[str, Any]:
    """Return the OpenAPI document the gateway publishes (built once per process: the code is fixed)."""
    return published.openapi()
