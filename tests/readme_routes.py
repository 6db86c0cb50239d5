"""Every route README documents, read from README itself, so a documented route cannot go unrouted."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?\s]+)")
STEP_ROW = re.compile(r"^\| \d [^|]+\| (.+?) \|")
STEPS_PREFIX = "/api/v1/cases/{id}/"


def documented_routes(text: str | None = None) -> list[tuple[str, str]]:
    """Return (method, path template) for every route README names, the six-step table included."""
    text = README.read_text() if text is None else text
    found: dict[tuple[str, str], None] = {}
    for method, path in ROUTE.findall(text):
        if path.endswith("/…"):
            continue  # the six-step table's heading: its rows are read below
        path = path.rstrip(".,;:")
        for variant in path.split(" / "):
            found[(method, variant)] = None
        if path.endswith("/document.pdf"):
            found[(method, path.removesuffix(".pdf") + ".docx")] = None
    for route in _step_routes(text):
        found[("POST", route)] = None
    return list(found)


def _step_routes(text: str) -> list[str]:
    # Rows like "| 2 积极协调 (催菜) | `tasks` `{...}`; `tasks/{t}/chase`, `/close`, `/cancel` | ...".
    routes: list[str] = []
    for line in text.splitlines():
        match = STEP_ROW.match(line)
        if not match:
            continue
        last = ""
        for token in re.findall(r"`([^`]+)`", match.group(1)):
            if token.startswith("{"):
                continue  # a body, not a path
            if token.startswith("/"):
                token = last.rsplit("/", 1)[0] + token  # "/close" after "tasks/{t}/chase"
            routes.append(STEPS_PREFIX + token)
            last = token
    return routes


def concrete(template: str) -> str:
    """Return a path with every {parameter} filled with an id that exists nowhere."""
    return re.sub(r"\{[^}]+\}", "no-such-id", template)


def matches(template: str, openapi_path: str) -> bool:
    """Tell whether a README template and an OpenAPI path name the same route."""
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(openapi_path))
    return re.fullmatch(pattern, concrete(template)) is not None
