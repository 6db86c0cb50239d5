"""POST /api/v1/cases refuses text that looks empty or reorders itself on screen, and answers a contact it
cannot seal with a 409 and the reason, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from services.intake.bootstrap import Overrides, build_app
from services.intake.settings import IntakeSettings
from shared.auth.keys import Role
from shared.contracts.events import CaseOpened, parse_event_data
from shared.crypto.vault import MemoryKeyStore, Vault
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.support import case_body

STAFF = {"Authorization": "Bearer staff-key"}
CONTACT = {"name": "李四", "mobile": "13700001111"}


class KeysThatStayErased(MemoryKeyStore):
    """A key store that, like an erasure racing the request, gives the subject no key."""

    async def create_key(self, subject: str) -> bytes | None:
        return None


def _client(recorder: InMemoryRecorder, vault: Vault | None = None) -> httpx.AsyncClient:
    keys = FakeApiKeys({"staff-key": ("finance", Role.STAFF)})
    overrides = Overrides(recorder=recorder, api_keys=keys, **({"vault": vault} if vault else {}))
    app = build_app(IntakeSettings(), overrides)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def client(recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(recorder) as http:
        yield http


@pytest.mark.parametrize(
    "title",
    [
        "\u200b\u200b",  # zero-width spaces
        "\u202e\u200b\u200d",  # an override, a zero-width space and a joiner
        "\ufeff\u2060",  # a byte-order mark and a word joiner
        "\u2028\u2029",  # line and paragraph separators
        "\u3000\u200b\u00a0",  # ideographic space, zero-width space, no-break space
        "\u3164\u115f\uffa0",  # Hangul fillers: letters that draw nothing
        "\u2800\ufffc",  # the braille blank, the object replacement character
        "\u034f\u0301\ufe0f",  # a grapheme joiner, an accent and a variation selector with nothing to mark
    ],
)
async def test_a_title_of_only_invisible_characters_is_refused_as_blank(
    client: httpx.AsyncClient, recorder: InMemoryRecorder, title: str
) -> None:
    answer = await client.post("/api/v1/cases", json=case_body(1, title=title), headers=STAFF)
    assert answer.status_code == 422 and "title" in answer.text, answer.text
    assert await recorder.read_all(0, 10) == []


@pytest.mark.parametrize("control", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2069"])
async def test_bidi_controls_that_reorder_what_staff_read_are_refused_in_titles_and_descriptions(
    client: httpx.AsyncClient, control: str
) -> None:
    for field, value in (("title", f"补贴{control}到账"), ("description", f"第一行\n资金{control}未到账")):
        answer = await client.post("/api/v1/cases", json=case_body(1, **{field: value}), headers=STAFF)
        assert answer.status_code == 422 and field in answer.text and f"U+{ord(control):04X}" in answer.text


async def test_text_with_visible_characters_and_joiners_is_kept(
    client: httpx.AsyncClient, recorder: InMemoryRecorder
) -> None:
    answer = await client.post(
        "/api/v1/cases", json=case_body(1, title="补贴\u200d资金 👨\u200d👩\u200d👧"), headers=STAFF
    )
    assert answer.status_code == 201, answer.text
    [event] = await recorder.read_stream(answer.json()["case_id"])
    assert event.data["title"] == "补贴\u200d资金 👨\u200d👩\u200d👧"


async def test_a_contact_that_cannot_be_sealed_is_refused_with_a_reason_not_a_server_error(
    recorder: InMemoryRecorder,
) -> None:
    async with _client(recorder, Vault(KeysThatStayErased())) as http:
        answer = await http.post("/api/v1/cases", json={**case_body(1), "contact": CONTACT}, headers=STAFF)
    assert answer.status_code == 409 and "erased" in answer.json()["detail"], answer.text
    assert await recorder.read_all(0, 10) == []


def test_an_event_recorded_before_the_stricter_text_rules_stays_readable() -> None:
    # Events are immutable: one stored with a bidi control or an invisible-only name must still fold and replay.
    data = {
        "case_id": "c1",
        "enterprise": {"name": "\u202e格力\u202c", "credit_code": "91440400192548256N"},
        "category": "fund_disbursement",
        "title": "\u200b\u200b",
        "description": "x",
        "channel": "online",
        "legacy": False,
        "source": "http",
        "request_ref": "r1",
        "request_hash": "h",
    }
    opened = parse_event_data("CaseOpened", 1, data)
    assert isinstance(opened, CaseOpened) and opened.title == "\u200b\u200b"
    with pytest.raises(ValidationError):
        CaseOpened.model_validate(data)  # as new input, the same text is refused
