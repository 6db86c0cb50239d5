"""Message templates kept as files, one per (template, language), rendered strictly.

Why strict: a template that names a variable the event did not supply must fail loudly (a test catches it),
never send "尊敬的 ，" to a citizen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError, meta

LANGUAGES = ("zh-CN", "en")  # Chinese first; English on request
DEFAULT_LANGUAGE = "zh-CN"
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


class MissingTemplateVariable(Exception):
    """A template names a variable the event did not supply."""


class UnknownTemplate(Exception):
    """No template of that name in that language."""


@dataclass(frozen=True)
class Rendered:
    """A message ready for a channel."""

    template: str
    language: str
    subject: str
    body: str


class TemplateBook:
    """Templates under one folder: `<language>/<name>.txt`, first line `subject: ...`, then a blank line, then the body."""

    def __init__(self, root: Path = TEMPLATES) -> None:
        self._root = root
        self._env = Environment(
            loader=FileSystemLoader(str(root)),
            undefined=StrictUndefined,
            autoescape=False,  # plain text and Markdown channels; HTML is never built from these
            keep_trailing_newline=False,
        )

    def names(self, language: str = DEFAULT_LANGUAGE) -> list[str]:
        """Return every template name of a language."""
        return sorted(p.stem for p in (self._root / language).glob("*.txt"))

    def variables(self, name: str, language: str) -> set[str]:
        """Return the variables a template uses (for the test that every event supplies them)."""
        source = (self._root / language / f"{name}.txt").read_text(encoding="utf-8")
        return set(meta.find_undeclared_variables(self._env.parse(source)))

    def render(self, name: str, language: str, variables: Mapping[str, Any]) -> Rendered:
        """Render a template; a missing variable raises MissingTemplateVariable."""
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        try:
            text = self._env.get_template(f"{language}/{name}.txt").render(**variables)
        except TemplateNotFound:
            raise UnknownTemplate(f"no template {name!r} in {language}") from None
        except UndefinedError as exc:
            raise MissingTemplateVariable(f"template {name!r} ({language}): {exc.message}") from None
        head, _, body = text.partition("\n\n")
        if not head.startswith("subject:"):
            raise UnknownTemplate(f"template {name!r} ({language}) must start with 'subject:'")
        return Rendered(name, language, head.removeprefix("subject:").strip(), body.strip())
