"""Helpers for the sign-in and rights unit tests (no tests here): the assignment app with people in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from argon2 import PasswordHasher
from fastapi import FastAPI

from services.assignment.application.boards import board_stream
from services.assignment.application.policies import (
    assign_concierge_when_case_opened,
    record_concierge_on_cases_when_assigned,
)
from services.assignment.bootstrap import Ports, mount
from services.assignment.projections.case_summaries import InMemoryCaseSummaries
from shared.auth.keys import Principal
from shared.auth.memory import MemoryDatabase
from shared.auth.passwords import Passwords
from shared.auth.tokens import TokenStore, is_person_token
from shared.eventstore.memory import InMemoryRecorder
from shared.idempotency import InMemoryIdempotencyStore
from tests.fakes import FakeApiKeys
from tests.unit.test_assignment_support import KEYS, FakeBureauDirectory, auth, open_case

PASSWORD = "长城-Great-Wall-2026"


def cheap_passwords() -> Passwords:
    """argon2id with test-sized parameters: the same code path, milliseconds instead of a tenth of a second."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


class KeysAndPeople:
    """The authenticator the real ApiKeyStore is: bureau keys (here fake) and people's tokens (real store)."""

    def __init__(self, db: MemoryDatabase) -> None:
        self._keys, self._people = FakeApiKeys(KEYS), TokenStore(db)

    async def authenticate(self, token: str) -> Principal | None:
        """Return the principal of a key or a person's token."""
        if is_person_token(token):
            return await self._people.authenticate(token)
        return await self._keys.authenticate(token)


@dataclass
class World:
    """An assignment app over memory, with a client and shortcuts for roster, accounts and cases."""

    recorder: InMemoryRecorder
    app: FastAPI
    db: MemoryDatabase
    http: httpx.AsyncClient

    async def staff(self, name: str, post: str, section: str = "综合科", bureau: str = "finance") -> str:
        """Add a person to the roster with the bureau's admin key; return the staff id."""
        added = await self.http.post(
            "/api/v1/staff",
            json={"name": name, "post": post, "section": section},
            headers=auth(f"{bureau}-admin"),
        )
        assert added.status_code == 201, added.text
        return str(added.json()["detail"]["staff_id"])

    async def account(self, staff_id: str, username: str, role: str = "staff") -> dict[str, Any]:
        """Give the person an account with PASSWORD; return the answer (TOTP secret for leadership)."""
        body = {"staff_id": staff_id, "username": username, "password": PASSWORD, "role": role}
        created = await self.http.post("/api/v1/accounts", json=body, headers=auth("finance-admin"))
        assert created.status_code == 201, created.text
        return dict(created.json())

    async def sign_in(
        self, username: str, totp: str | None = None, password: str = PASSWORD
    ) -> httpx.Response:
        """Sign in to finance."""
        body = {"bureau": "finance", "username": username, "password": password}
        return await self.http.post("/api/v1/auth/sign-in", json=body | ({"totp": totp} if totp else {}))

    async def token(self, username: str, totp: str | None = None) -> str:
        """Sign in and return the access token."""
        answer = await self.sign_in(username, totp)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    async def assigned_case(self, case_id: str, n: int) -> None:
        """Open a case for enterprise n and run the assignment policies as the consumers would."""
        boards, cases = self.app.state.boards, self.app.state.cases
        known = len(await self.recorder.read_stream(board_stream("finance")))
        opened = await open_case(self.recorder, case_id, "finance", n)
        await assign_concierge_when_case_opened(opened, boards=boards, cases=cases)
        for envelope in (await self.recorder.read_stream(board_stream("finance")))[known:]:
            await record_concierge_on_cases_when_assigned(envelope, boards=boards, cases=cases)


def world() -> World:
    """A fresh world; close its client with `await w.http.aclose()`."""
    recorder, db = InMemoryRecorder(), MemoryDatabase()
    app = FastAPI()
    mount(
        app,
        Ports(
            recorder=recorder,
            api_keys=KeysAndPeople(db),
            bureaus=FakeBureauDirectory(),
            idempotency=InMemoryIdempotencyStore(),
            summaries=InMemoryCaseSummaries(recorder),
            auth_db=db,
            passwords=cheap_passwords(),
        ),
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://assignment")
    return World(recorder, app, db, client)


def bearer(token: str) -> dict[str, str]:
    """Headers of a call with a person's token."""
    return {"Authorization": f"Bearer {token}"}
