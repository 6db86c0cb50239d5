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


@dataclass(frozen=True)
class DocumentedPath:
    """One path template of the API and the methods it documents."""

    pattern: re.Pattern[str]
    methods: frozenset[str]


def documented_paths(openapi: dict[str, Any]) -> list[DocumentedPath]:
    """Return every path template of an OpenAPI document with its methods."""
    table = []
    for template, operations in openapi.get("paths", {}).items():
        regex = _PARAMETER.sub("[^/]+", re.escape(template))
        methods = frozenset(m.upper() for m in operations if m.upper() in HTTP_METHODS)
        table.append(DocumentedPath(re.compile(f"{regex}$"), methods))
    return table


def allowed_methods(table: list[DocumentedPath], raw_path: str) -> frozenset[str] | None:
    """Return the methods documented at a path as sent (percent-encoded), or None when none is documented."""
    # Templates may overlap (/api/v1/staff/leave-check and /api/v1/staff/{staff_id}): the server would take
    # any method of either, so the path allows them all.
    found = [entry.methods for entry in table if entry.pattern.match(raw_path)]
    return frozenset().union(*found) if found else None


@cache
def published_openapi() -> dict[str, Any]:
    """Return the OpenAPI document the gateway publishes (built once per process: the code is fixed)."""
    return published.openapi()
