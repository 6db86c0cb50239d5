"""Every error detail written into the source as a literal reads Chinese first: "中文 / English"."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHINESE = re.compile(r"[\u3400-\u9fff]")
# Where the English part starts: "中文 / English" or "中文 (English)".
ENGLISH_PART = re.compile(r" / | \(")
# Texts allowed to stay English, each with why. Keep it short: a new entry needs a reason a user accepts.
ENGLISH_ALLOWED: dict[str, str] = {}


def _text(node: ast.expr) -> str | None:
    """The literal text of a string or f-string (its fixed parts), or None when it is computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    return None


def _texts_in_detail(node: ast.expr) -> Iterator[ast.expr]:
    """The literal texts a detail carries: itself, or the `msg` of each problem in a list of problems."""
    if isinstance(node, ast.List):
        for item in node.elts:
            if isinstance(item, ast.Dict):
                for key, value in zip(item.keys, item.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "msg":
                        yield value
    elif isinstance(node, ast.ListComp) and isinstance(node.elt, ast.Dict):
        yield from _texts_in_detail(ast.List(elts=[node.elt]))
    else:
        yield node


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _details(tree: ast.AST) -> Iterator[ast.expr]:
    """The detail of every HTTPException(...) and every JSONResponse({"detail": ...}) built in a module."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if _name(node) == "HTTPException":
            given = [kw.value for kw in node.keywords if kw.arg == "detail"] or node.args[1:2]
            yield from given
        elif _name(node) == "JSONResponse" and node.args and isinstance(node.args[0], ast.Dict):
            body = node.args[0]
            for key, value in zip(body.keys, body.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "detail":
                    yield value


def _validator_refusals(tree: ast.AST) -> Iterator[ast.expr]:
    """The text of every `raise ValueError(...)`: in an entrypoint it is a validator's 422 `msg`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            if _name(node.exc) == "ValueError":
                yield node.exc.args[0]


def _chinese_first(text: str) -> bool:
    """Whether Chinese comes before the English part (a Chinese word only inside the English is not it)."""
    if not any(c.isalpha() for c in text):
        # An f-string of computed parts only (f"{reason} [{rule}]"): its texts are checked where they are made.
        return True
    return bool(CHINESE.search(ENGLISH_PART.split(text, maxsplit=1)[0]))


def english_only_details() -> list[str]:
    """Where a literal error detail in services/ or shared/ (or a validator's refusal in an entrypoint module)
    does not start in Chinese."""
    found = []
    for path in sorted([*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("shared").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        texts = [n for detail in _details(tree) for n in _texts_in_detail(detail)]
        if "entrypoints" in path.parts:
            texts += _validator_refusals(tree)
        for node in texts:
            text = _text(node)
            if text is not None and not _chinese_first(text) and text not in ENGLISH_ALLOWED:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text!r}")
    return found


def test_every_literal_error_detail_reads_chinese_first() -> None:
    assert english_only_details() == []


def test_the_scan_sees_positional_keyword_fstring_and_problem_details() -> None:
    source = (
        "HTTPException(404, 'case not found')\n"
        "HTTPException(status_code=404, detail=f'case {x} not found')\n"
        "HTTPException(422, [{'loc': ['body'], 'msg': 'give a name', 'type': 'value_error'}])\n"
        "JSONResponse({'detail': f'no API at {p}'}, status_code=404)\n"
        "HTTPException(404, '找不到 / not found')\n"
        "HTTPException(409, str(exc))\n"
        "HTTPException(422, 'name the leader (局长)')\n"
        "HTTPException(409, 'from 晚于 to (from is after to)')\n"
        "HTTPException(403, f'{reason} [{rule}]')\n"
    )
    texts = [_text(n) for d in _details(ast.parse(source)) for n in _texts_in_detail(d)]
    assert [t for t in texts if t is not None and not _chinese_first(t)] == [
        "case not found",
        "case  not found",
        "give a name",
        "no API at ",
        "name the leader (局长)",
    ]


def test_the_scan_sees_the_refusals_of_validators() -> None:
    source = "def f(x):\n    if x:\n        raise ValueError('give post, section or both')\n    raise ValueError(why)\n"
    texts = [_text(n) for n in _validator_refusals(ast.parse(source))]
    assert sorted(texts, key=str) == [None, "give post, section or both"]
