"""Every error detail written into the source as a literal reads Chinese first: "中文 / English"."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHINESE = re.compile(r"[\u3400-\u9fff]")
# Where the English part starts: after " / " only ("中文 (English)" gives a client nothing to match).
ENGLISH_PART = " / "
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
    """Whether the text reads "中文 / English": Chinese before the first " / ", the English after it (a Chinese
    word only inside the English is not it; neither is English without " / " to match it by)."""
    if not any(c.isalpha() for c in text):
        # An f-string of computed parts only (f"{reason} [{rule}]"): its texts are checked where they are made.
        return True
    chinese, slash, _ = text.partition(ENGLISH_PART)
    return bool(slash) and bool(CHINESE.search(chinese))


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
        "HTTPException(401, '账号已停用 (account disabled)')\n"
        "HTTPException(422, f'公钥无效 (invalid public key): {exc}')\n"
        "HTTPException(409, '金额最多两位小数（分）/ at most two decimal places')\n"
        "HTTPException(422, '须为有效的 UUID')\n"
        "HTTPException(409, '请先删除不用的令牌 / delete one first (DELETE /api/v1/tokens/{id})')\n"
        "HTTPException(422, '名称 / name the leader (局长)')\n"
        "HTTPException(403, f'{reason} [{rule}]')\n"
    )
    texts = [_text(n) for d in _details(ast.parse(source)) for n in _texts_in_detail(d)]
    # "中文 (English)", "中文（…）/ English" and Chinese alone give a client no " / " to match the English by.
    assert [t for t in texts if t is not None and not _chinese_first(t)] == [
        "case not found",
        "case  not found",
        "give a name",
        "no API at ",
        "name the leader (局长)",
        "from 晚于 to (from is after to)",
        "账号已停用 (account disabled)",
        "公钥无效 (invalid public key): ",
        "金额最多两位小数（分）/ at most two decimal places",
        "须为有效的 UUID",
    ]


def test_the_scan_sees_the_refusals_of_validators() -> None:
    source = "def f(x):\n    if x:\n        raise ValueError('give post, section or both')\n    raise ValueError(why)\n"
    texts = [_text(n) for n in _validator_refusals(ast.parse(source))]
    assert sorted(texts, key=str) == [None, "give post, section or both"]


# ---- exception texts of the domain and application modules, and the shared modules they answer with ----
# Their `str(exc)` becomes an HTTP detail or a validator's 422 msg, so they read Chinese first too.
# Exceptions whose text is never an answer as it stands, each with why.
NOT_ANSWERED_AS_IS: dict[str, str] = {
    "RuntimeError": "a fault of the code or deployment: a 500 whose text is only logged",
    "KeyError": "a fault of the code: a 500 whose text is only logged",
    "PoisonMessage": "a Kafka record's dead-letter reason, read by operators",
    "RequestReused": "raised for Kafka records only: a dead-letter reason",
    "UnknownTemplate": "a broken template of the deployment: logged, never answered",
    "MissingTemplateVariable": "a broken template of the deployment: logged, never answered",
    "IdempotencyKeyReused": "the entrypoint answers '该 Idempotency-Key 已用于另一个请求 / Idempotency-Key {exc}'",
    "RulesChangedMeanwhile": "the entrypoint answers '规则已被修改，请重新读取后再改 / {exc}'",
}
# ValueErrors that guard the code's own calls, not input: no request can reach them.
INTERNAL_VALUE_ERRORS: dict[str, str] = {
    "the overdue filter needs the current time": "the route always passes the time",
    "the waiting filter needs the current time and the working-day calendar": "the route passes both",
    "the feedback token secret needs at least 32 bytes": "settings, checked at start-up",
    "start must be timezone-aware": "callers pass aware times",
    "hours must be positive": "rules are validated before they are stored",
    "a deadline needs at least one working day": "working_days is validated >= 1 first",
    "unknown event  v": "reading stored events, not input",
    "no topic for stream type ": "a code mapping, not input",
}
REFUSING_MODULES = ("domain", "application")
SHARED_REFUSING = ("shared/auth/accounts.py", "shared/http_query.py", "shared/workdays/calendar.py")


def _refusing_modules() -> list[Path]:
    """The domain and application modules of every service, and the shared modules whose texts answer."""
    services = [p for p in ROOT.joinpath("services").rglob("*.py") if p.parent.name in REFUSING_MODULES]
    shared = [ROOT / name for name in SHARED_REFUSING] + list(ROOT.joinpath("shared/contracts").glob("*.py"))
    return sorted([*services, *shared])


def _exception_texts(tree: ast.AST) -> Iterator[tuple[str, ast.expr]]:
    """(exception class, literal argument) of every `raise Class(...)`, and every problem's literal `msg`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            name = _name(node.exc)
            # A lowercase call builds the exception (its arguments are words it puts in a sentence).
            if name and name[0].isupper():
                yield from ((name, arg) for arg in node.exc.args)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "msg":
                    yield "msg", value


def english_only_exception_texts() -> list[str]:
    """Where a literal exception text or problem msg of a refusing module does not start in Chinese."""
    found = []
    for path in _refusing_modules():
        for name, node in _exception_texts(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            text = _text(node)
            if text is None or _chinese_first(text) or name in NOT_ANSWERED_AS_IS:
                continue
            if name == "ValueError" and text in INTERNAL_VALUE_ERRORS:
                continue
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}({text!r})")
    return found


def test_every_literal_exception_text_of_a_refusing_module_reads_chinese_first() -> None:
    assert english_only_exception_texts() == []


def test_the_exception_scan_sees_raises_and_problem_msgs() -> None:
    source = (
        "raise StepRefused('the case is resolved')\n"
        "raise AccountRefused(404, 'account not found')\n"
        "raise Refused(rules.X, f'on hold since {t}')\n"
        "raise InvalidCreditCode(f'校验码为 {a} / check character is {a}')\n"
        "raise PeriodRefused('to 早于 from (to is before from)')\n"
        "raise _out_of_order('a', t, 'before', 'b', u)\n"
        "problems = [{'loc': ['query', n], 'msg': f'unknown filter {n!r}', 'type': 'extra_forbidden'}]\n"
        "problems = [{'loc': ['body', 'to'], 'msg': f'{n} 早于 from (before from)', 'type': 'value_error'}]\n"
    )
    texts = [_text(n) for _, n in _exception_texts(ast.parse(source))]
    assert [t for t in texts if t is not None and not _chinese_first(t)] == [
        "the case is resolved",
        "account not found",
        "on hold since ",
        "to 早于 from (to is before from)",
        "unknown filter ",
        " 早于 from (before from)",
    ]


def test_the_problems_of_a_published_year_read_chinese_first() -> None:
    from datetime import date

    from shared.workdays.calendar import problems_of_published_year

    weekday, other_year = date(2027, 3, 3), date(2026, 12, 31)
    empty = problems_of_published_year(2027, [], [weekday])
    bad = problems_of_published_year(2027, [weekday, weekday, other_year], [weekday, weekday, other_year])
    assert len(empty) == 3 and len(bad) == 7  # each also misses the statutory holidays
    assert all(_chinese_first(problem) for problem in [*empty, *bad]), [*empty, *bad]
    assert "holidays repeat 2027-03-03" in bad[0] and bad[0].startswith("节假日有重复日期")
