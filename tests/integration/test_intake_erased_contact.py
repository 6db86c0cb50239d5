"""An enterprise whose contact was erased can be given a contact again: intake on a real SecantusDB key store
seals the new details under a new key (201, not 500), and what was sealed before the erasure stays erased."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.bootstrap import Overrides, build_app
from services.intake.settings import IntakeSettings
from shared.auth.keys import Role
from shared.crypto.vault import MongoKeyStore, Vault
from shared.eventstore.memory import InMemoryRecorder
from tests.fakes import FakeApiKeys
from tests.support import case_body

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": "Bearer admin-key"}


@pytest.fixture
def vault(mongo_db: AsyncDatabase) -> Vault:
    return Vault(MongoKeyStore(mongo_db))


@pytest.fixture
def recorder() -> InMemoryRecorder:
    return InMemoryRecorder()


@pytest.fixture
async def intake(vault: Vault, recorder: InMemoryRecorder) -> AsyncIterator[httpx.AsyncClient]:
    keys = FakeApiKeys({"admin-key": ("finance", Role.ADMIN)})
    app = build_app(IntakeSettings(), Overrides(recorder=recorder, api_keys=keys, vault=vault))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def _sealed_contact(intake: httpx.AsyncClient, recorder: InMemoryRecorder, body: dict) -> dict:
    answer = await intake.post("/api/v1/cases", json=body, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    [event] = await recorder.read_stream(answer.json()["case_id"])
    return dict(event.data["contact"])


async def test_a_case_with_a_contact_opens_after_the_enterprises_contact_was_erased(
    intake: httpx.AsyncClient, recorder: InMemoryRecorder, vault: Vault
) -> None:
    first = await _sealed_contact(
        intake, recorder, {**case_body(4482), "contact": {"name": "张三", "mobile": "13900001111"}}
    )
    assert await vault.erase(first["subject"])

    again = await _sealed_contact(
        intake, recorder, {**case_body(4482), "contact": {"name": "李四", "mobile": "13700001111"}}
    )

    assert again["subject"] == first["subject"]
    assert await vault.open(again) == {"name": "李四", "mobile": "13700001111"}
    assert await vault.open(first) is None  # erased for good: the new key does not open it
