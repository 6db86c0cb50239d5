"""Notifications through the gateway on real Tansu, SecantusDB, an SMTP server and a WeCom robot server:
once-only delivery across a kill, the rating link that reopens a case, and erasure of the enterprise's contact."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from shared.auth.keys import ApiKeyStore, Bureau, BureauDirectory, Role
from shared.devstack.processes import free_port
from shared.devstack.stack import Stack
from shared.eventstore.mongo import connect
from tests.conftest import stack_config
from tests.support import case_body, eventually

pytestmark = pytest.mark.integration


class Mails:
    def __init__(self) -> None:
        self.received: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.received if m["To"] == address]


class Robot:
    """A WeCom group robot: keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.sent.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                body = b'{"errcode":0,"errmsg":"ok"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Mails, Robot]]:
    mails, smtp_port, robot = Mails(), free_port(), Robot()
    controller = Controller(mails, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    config = stack_config(Path(tmp_path_factory.mktemp("notify")))
    config.service_env_overrides.update(
        NOTIFICATION_SMTP_HOST="127.0.0.1",
        NOTIFICATION_SMTP_PORT=str(smtp_port),
        NOTIFICATION_WECOM_WEBHOOK_URL=f"http://127.0.0.1:{robot.server.server_port}/cgi-bin/webhook/send?key=k",
        NOTIFICATION_TICK_SECONDS="0.2",
        NOTIFICATION_PUBLIC_URL=config.url("gateway"),
    )
    stack = Stack(config).start()
    yield stack, mails, robot
    stack.stop()
    controller.stop()
    robot.server.shutdown()


@pytest.fixture
async def admin(world: tuple[Stack, Mails, Robot]) -> AsyncIterator[httpx.AsyncClient]:
    stack = world[0]
    bureau_id = f"n{uuid.uuid4().hex[:8]}"
    client = connect(stack.config.mongo_uri)
    db = client[stack.config.database]
    await BureauDirectory(db).register(Bureau(id=bureau_id, name_zh="财政金融局", name_en="Finance"))
    key = await ApiKeyStore(db).issue(bureau_id, Role.ADMIN, "notification test")
    await client.close()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.config.url("gateway"), headers=headers, timeout=30) as http:
        http.bureau = bureau_id  # type: ignore[attr-defined]
        yield http


async def test_a_case_is_told_once_across_a_kill_rated_through_its_link_and_its_contact_erased(world, admin):
    stack, mails, robot = world
    bureau = admin.bureau
    added = await admin.post(
        "/api/v1/staff", json={"name": "李副局长", "post": "deputy_director", "section": "局领导"}
    )
    staff_id = added.json()["detail"]["staff_id"]
    # No quiet hours (an empty window): the default 21:00-08:00 would hold the mails whenever the suite runs late.
    contact = {
        "email": "li@gaoxin.gov.cn",
        "wecom_user_id": "li.fj",
        "channels": ["email", "wecom"],
        "quiet_start": "00:00",
        "quiet_end": "00:00",
    }

    async def contact_kept() -> bool:
        # A contact is kept only for a person on the roster as the notification service knows it: the
        # StaffMemberAdded reaches it through the relay moments after the answer.
        put = await admin.put(f"/api/v1/contacts/staff:{bureau}:{staff_id}", json=contact)
        assert put.status_code in (200, 404), put.text
        return put.status_code == 200

    await eventually(contact_kept, 30, "the new person's contact kept once notification knows them")
    body = {**case_body(7301), "contact": {"name": "王经理", "email": "gm@gree.cn"}}
    case_id = (await admin.post("/api/v1/cases", json=body)).json()["case_id"]

    async def told() -> bool:
        return bool(mails.to("li@gaoxin.gov.cn") and mails.to("gm@gree.cn") and robot.sent)

    await eventually(told, 60, "the concierge (email, WeCom) and the enterprise (email) told")
    assert (
        robot.sent[0]["text"]["mentioned_list"] == ["li.fj"]
        and "李副局长" in mails.to("gm@gree.cn")[0].get_content()
    )

    async def logged() -> bool:
        log = await admin.get(f"/api/v1/notifications?case_id={case_id}")
        sent = [d["channel"] for d in log.json()["items"] if d["status"] == "sent"]
        return sent.count("email") == 2 and sent.count("wecom") == 1

    # The kill comes once the outcomes are written: one killed before that resends after the claim lapses, a
    # case test_notification_flow covers with its own clock.
    await eventually(logged, 30, "two emails and one WeCom message sent in the delivery log")
    stack.services["notification"].kill()
    stack.start_service("notification")
    await asyncio.sleep(2)  # ten rounds of the restarted service: nothing more may go out
    log = await admin.get(f"/api/v1/notifications?case_id={case_id}")
    assert {(d["channel"], d["status"]) for d in log.json()["items"]} >= {
        ("email", "sent"),
        ("wecom", "sent"),
    }
    assert (
        len(mails.to("li@gaoxin.gov.cn")) == 1 and len(mails.to("gm@gree.cn")) == 1 and len(robot.sent) == 1
    )

    for step, payload in (
        ("clarification", {"summary": "补贴未到账", "sections": ["国库科"]}),
        ("resolution", {"summary": "已到账", "settlement_intent": True}),
    ):
        answer = await admin.post(f"/api/v1/cases/{case_id}/{step}", json=payload)
        assert answer.status_code == 201, answer.text

    async def invited() -> bool:
        return any("评" in m["Subject"] for m in mails.to("gm@gree.cn"))

    await eventually(invited, 60, "the rating invitation")
    invitation = next(m for m in mails.to("gm@gree.cn") if "评" in m["Subject"])
    link = re.search(r"(http://\S+/api/v1/feedback/\S+)", invitation.get_content()).group(1)
    async with httpx.AsyncClient(timeout=30) as anonymous:  # no account: the link is the credential
        page = await anonymous.get(link)
        assert page.status_code == 200 and page.json()["case_id"] == case_id
        assert (await anonymous.post(link, json={"rating": 1, "comment": "太慢了"})).status_code == 201
        assert (await anonymous.post(link, json={"rating": 5})).status_code == 409

    async def reopened() -> bool:
        case = (await admin.get(f"/api/v1/cases/{case_id}")).json()
        return bool(case["flagged_for_leadership"] and case["status"] != "resolved")

    await eventually(reopened, 60, "the low rating reopens the case for leadership")
    history = (await admin.get(f"/api/v1/cases/{case_id}/history")).json()
    rating = next(e for e in history if e["event_type"] == "RatingCollected")
    assert rating["actor"]["kind"] == "enterprise"

    erased = await admin.delete(f"/api/v1/contacts/enterprise:{bureau}:{body['enterprise']['credit_code']}")
    assert erased.status_code == 204
    case = (await admin.get(f"/api/v1/cases/{case_id}")).json()
    assert case["contact"]["erased"] and case["contact"]["email"] is None
    events = (await admin.get(f"/api/v1/cases/{case_id}/events")).json()
    assert "gm@gree.cn" not in json.dumps(events) and "王经理" not in json.dumps(events, ensure_ascii=False)
