"""Property-based fuzzing of the whole published API through the gateway of the real stack.

Every operation of contracts/openapi.json gets generated requests, valid and invalid (schemathesis on
hypothesis, fixed seed). What must hold for every one: no 5xx, and no 2xx without a key. `make test` runs it
for FUZZ_SECONDS (default 120); `make fuzz` runs it longer. The client paces itself under the gateway's
per-key rate limit, so the budget is spent on the services, not on 429s.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from shared.devstack.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FUZZ_SECONDS = float(os.environ.get("FUZZ_SECONDS", "120"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261127"))
PACE_PER_KEY = 15.0  # requests a second per key: under the gateway's default 20/s
SCHEMA = schemathesis.openapi.from_path(Path(__file__).parents[2] / "contracts" / "openapi.json")
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
SECURED = [op for op in OPERATIONS if op.definition.raw.get("security")]


@dataclass
class Pacer:
    """A client-side token bucket per key, so the fuzzer is not answered 429 all the time."""

    rate: float
    next_at: dict[str, float] = field(default_factory=dict)

    def wait(self, key: str) -> None:
        now = time.monotonic()
        at = max(now, self.next_at.get(key, now))
        self.next_at[key] = at + 1 / self.rate
        time.sleep(at - now)


@dataclass
class Findings:
    """What the run saw: statuses, and every violation with the request that caused it."""

    statuses: Counter[int] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    examples: int = 0

    def record(self, what: str, case: Any, answer: requests.Response) -> None:
        self.violations.append(
            f"{what}: {case.method} {case.formatted_path} -> {answer.status_code} {answer.text[:300]!r}\n"
            f"    {case.as_curl_command()}"
        )


def case_strategy() -> st.SearchStrategy[Any]:
    """Every secured operation, valid and invalid requests alike."""
    return st.one_of([op.as_strategy(generation_mode=mode) for op in SECURED for mode in GenerationMode])


def send(case: Any, base_url: str, headers: dict[str, str]) -> requests.Response | None:
    """Send the case; None when the client library itself cannot send it (not the server's doing)."""
    try:
        return case.call(base_url=base_url, headers=headers, timeout=60)  # type: ignore[no-any-return]
    except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError, ValueError):
        return None


def test_no_request_gets_a_5xx_and_none_gets_a_2xx_without_a_key(stack: Stack) -> None:
    base_url = stack.config.url("gateway")
    keys = {name: stack.credentials[name] for name in ("finance", "innovation", "operator")}
    pacer, findings = Pacer(PACE_PER_KEY), Findings()
    deadline = time.monotonic() + FUZZ_SECONDS
    strategy = case_strategy()

    @seed(FUZZ_SEED)
    @settings(
        # As many as the pace allows in the budget (each example sends twice, the second without a key).
        max_examples=max(1, int(FUZZ_SECONDS * PACE_PER_KEY)),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data(), who=st.sampled_from(sorted(keys)))
    def fuzz(data: st.DataObject, who: str) -> None:
        case = data.draw(strategy)  # drawn even past the deadline: hypothesis wants the same draws each run
        if time.monotonic() > deadline:
            return
        findings.examples += 1
        pacer.wait(who)
        answer = send(case, base_url, {"Authorization": f"Bearer {keys[who]}"})
        if answer is not None:
            findings.statuses[answer.status_code] += 1
            if answer.status_code >= 500:
                findings.record("5xx", case, answer)
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        pacer.wait("anonymous")
        anonymous = send(case, base_url, {})
        if anonymous is not None and (anonymous.status_code < 400 or anonymous.status_code >= 500):
            findings.record("answered without a key", case, anonymous)

    fuzz()
    summary = f"{findings.examples} examples, statuses {dict(sorted(findings.statuses.items()))}"
    print(summary)
    assert findings.examples > 0
    assert not findings.violations, summary + "\n" + "\n".join(findings.violations[:50])
