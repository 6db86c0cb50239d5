"""A caller with a wrong key learns that first, whatever the body: a 401, never a 422 about the body."""

from __future__ import annotations

from tests.unit.test_auth_support import bearer, world

BODIES = [b"{", b"\xff\xfe", b'{"name": 1}']


async def test_a_wrong_key_with_a_body_that_is_not_json_or_invalid_is_401() -> None:
    w = world()
    try:
        answers = [
            await w.http.post(
                "/api/v1/staff",
                content=body,
                headers={**bearer("made-up"), "Content-Type": "application/json"},
            )
            for body in BODIES
        ]
        missing = await w.http.post(
            "/api/v1/staff", content=b"{", headers={"Content-Type": "application/json"}
        )
    finally:
        await w.http.aclose()

    assert [a.status_code for a in answers] == [401, 401, 401]
    assert all(a.headers["www-authenticate"] == 'Bearer error="invalid_token"' for a in answers)
    assert missing.status_code == 401


async def test_a_valid_key_with_a_body_that_is_not_json_still_gets_the_422_with_its_reason() -> None:
    w = world()
    try:
        admin = await w.http.get("/api/v1/auth/me", headers=bearer("finance-admin"))
        answer = await w.http.post(
            "/api/v1/staff",
            content=b"{",
            headers={**bearer("finance-admin"), "Content-Type": "application/json"},
        )
    finally:
        await w.http.aclose()

    assert admin.status_code == 200, admin.text
    assert answer.status_code == 422 and answer.json()["detail"][0]["type"] == "json_invalid"
