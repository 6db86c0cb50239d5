"""A JSON text naming one key twice in an object is refused wherever it comes in (HTTP bodies, Kafka records).

`{"amount": "1.00", "amount": "999.00"}` is valid JSON, and parsers differ on which copy they keep (Python's keeps
the last): a sender's tool could show one amount while we record another, and over Kafka a signature covers bytes
two parsers read apart. Nothing this system takes means anything by a repeated key.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from shared.contracts.text import shown


class DuplicateKey(ValueError):
    """A JSON object names a key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def repeated_key(body: bytes) -> str | None:
    """Return a key some object of a JSON body names twice, or None (also for a body that is no JSON)."""
    try:
        json.loads(body, object_pairs_hook=_unique_keys)
    except DuplicateKey as exc:
        return exc.key
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser: its reader answers
        return None
    return None


def parse_unique(model: type[BaseModel], value: bytes) -> Any:
    """Validate a JSON text as the model, refusing one that names a key twice (ValueError naming it)."""
    if (key := repeated_key(value)) is not None:
        raise ValueError(f"重复的键 / the key {shown(key)!r} appears more than once in the JSON")
    return model.model_validate_json(value)
