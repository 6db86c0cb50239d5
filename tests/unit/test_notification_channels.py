"""Channel plugins against real local servers: SMTP (aiosmtpd), and HTTP servers that check the robots' formats."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import json
import threading
from collections.abc import Iterator
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from aiosmtpd.controller import Controller

from services.notification.adapters.channels.base import ChannelError, Message
from services.notification.adapters.channels.email import EmailChannel, SmtpSettings
from services.notification.adapters.channels.webhooks import (
    DingTalkChannel,
    SmsChannel,
    WeComChannel,
    dingtalk_signature,
)
from shared.devstack.processes import free_port

MESSAGE = Message(
    "d" * 32, "zhangsan", "【提醒】案件 case-1 的协调事项今日到期", "规划科办理的协调事项今日到期。"
)


class Inbox:
    """An aiosmtpd handler keeping what it received."""

    def __init__(self) -> None:
        self.mails: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(email.message_from_bytes(envelope.content, policy=default_policy))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


async def test_an_email_arrives_in_utf8_with_the_delivery_id_as_message_id(smtp):
    inbox, port = smtp
    channel = EmailChannel(SmtpSettings("127.0.0.1", port, sender="concierge@gaoxin.gov.cn"))
    receipt = await channel.send(Message("d" * 32, "zs@gaoxin.gov.cn", MESSAGE.subject, MESSAGE.body))
    mail = inbox.mails[0]
    assert mail["Subject"] == MESSAGE.subject and mail["To"] == "zs@gaoxin.gov.cn"
    assert mail["Message-ID"] == receipt == f"<{'d' * 32}@concierge.notification>"
    assert "协调事项今日到期" in mail.get_content()


async def test_an_smtp_server_that_is_down_is_a_transient_failure():
    channel = EmailChannel(SmtpSettings("127.0.0.1", free_port(), timeout=2))
    with pytest.raises(ChannelError) as failed:
        await channel.send(dataclasses.replace(MESSAGE, address="zs@gaoxin.gov.cn"))
    assert failed.value.transient


class Webhook:
    """A local HTTP server that records requests and answers what the test sets."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: tuple[int, dict[str, Any]] = (200, {"errcode": 0, "errmsg": "ok"})
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                )
                code, answer = outer.answer
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    webhook = Webhook()
    yield webhook
    webhook.server.shutdown()


async def test_wecom_gets_a_text_message_that_mentions_the_recipient(hook):
    async with httpx.AsyncClient() as client:
        await WeComChannel(client, f"{hook.url}/cgi-bin/webhook/send?key=K").send(MESSAGE)
    sent = hook.requests[0]["json"]
    assert sent["msgtype"] == "text" and sent["text"]["mentioned_list"] == ["zhangsan"]
    assert MESSAGE.subject in sent["text"]["content"]


async def test_dingtalk_calls_are_signed_with_timestamp_and_hmac_as_dingtalk_documents(hook):
    async with httpx.AsyncClient() as client:
        channel = DingTalkChannel(
            client, f"{hook.url}/robot/send?access_token=T", "SECsecret", lambda: 1700000000000
        )
        await channel.send(MESSAGE)
    request = hook.requests[0]
    query = parse_qs(urlparse(request["path"]).query)
    assert query["access_token"] == ["T"] and query["timestamp"] == ["1700000000000"]
    assert query["sign"] == [dingtalk_signature("SECsecret", 1700000000000)]
    # The documented construction: base64(HMAC-SHA256(secret, "{timestamp}\n{secret}")).
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(
        hmac.new(b"SECsecret", b"1700000000000\nSECsecret", hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected]
    assert request["json"]["at"]["atUserIds"] == ["zhangsan"]


async def test_a_robot_error_code_is_a_failure_and_a_rate_limit_is_worth_retrying(hook):
    async with httpx.AsyncClient() as client:
        channel = WeComChannel(client, hook.url)
        hook.answer = (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
        with pytest.raises(ChannelError) as permanent:
            await channel.send(MESSAGE)
        hook.answer = (200, {"errcode": 45009, "errmsg": "api freq out of limit"})
        with pytest.raises(ChannelError) as limited:
            await channel.send(MESSAGE)
    assert not permanent.value.transient and limited.value.transient


async def test_the_sms_gateway_gets_the_mobile_the_text_and_the_idempotency_key(hook):
    hook.answer = (202, {"id": "sms-1"})
    async with httpx.AsyncClient() as client:
        receipt = await SmsChannel(client, f"{hook.url}/send", "tok").send(
            Message("k" * 32, "13812341234", "【提醒】今日到期", "body")
        )
    request = hook.requests[0]
    assert receipt == "sms-1" and request["headers"]["Authorization"] == "Bearer tok"
    assert request["json"] == {
        "mobile": "13812341234",
        "content": "【高新区】body",
        "idempotency_key": "k" * 32,
    }


async def test_a_gateway_answering_500_is_transient_and_400_is_permanent(hook):
    async with httpx.AsyncClient() as client:
        channel = SmsChannel(client, f"{hook.url}/send", None)
        hook.answer = (500, {})
        with pytest.raises(ChannelError) as server_error:
            await channel.send(MESSAGE)
        hook.answer = (400, {"error": "bad mobile"})
        with pytest.raises(ChannelError) as client_error:
            await channel.send(MESSAGE)
    assert server_error.value.transient and not client_error.value.transient
    assert asyncio.get_running_loop()  # ran inside the event loop the async client needs
