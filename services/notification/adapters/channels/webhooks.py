"""Group-robot webhooks of WeCom (企业微信) and DingTalk (钉钉), and a generic SMS gateway over HTTP.

The address is the recipient's user id in that app (or a mobile for SMS); the robot posts into the bureau's
group and mentions them. DingTalk robots with a secret need each call signed: timestamp + HMAC-SHA256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import unicodedata
from collections.abc import Callable
from typing import Any

import httpx

from services.notification.adapters.channels.base import ChannelError, Message
from shared.contracts.text import BLANK_LOOKING

RATE_LIMITED = {45009, 130101, 660026}  # WeCom and DingTalk "too many requests": worth retrying


def _text(message: Message) -> str:
    return f"{message.subject}\n\n{message.body}"


async def _post(
    client: httpx.AsyncClient, url: str, payload: dict[str, Any], **kwargs: Any
) -> httpx.Response:
    try:
        response = await client.post(url, json=payload, **kwargs)
    except httpx.HTTPError as exc:
        raise ChannelError(f"unreachable: {exc.__class__.__name__}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise ChannelError(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise ChannelError(f"HTTP {response.status_code}: {response.text[:200]}", transient=False)
    return response


def _robot_result(response: httpx.Response, app: str) -> str:
    try:
        answer = response.json()
    except ValueError:
        raise ChannelError(f"{app}: not a JSON answer") from None
    code = int(answer.get("errcode", -1))
    if code != 0:
        raise ChannelError(
            f"{app} errcode {code}: {answer.get('errmsg', '')}", transient=code in RATE_LIMITED
        )
    return str(answer.get("msgid") or answer.get("errmsg") or "ok")


# The robots read "@all" (or "@name") as a mention, and a list of ids as several people: a user id holding an
# @ in any width (＠, ﹫), a comma, whitespace or an invisible format character (a zero-width space or BOM in
# front of "@all") could tell the whole group, or others, what was meant for one person. User ids hold none.
MENTION_SIGNS = frozenset("@\uff20\ufe6b")
LIST_SEPARATORS = frozenset(",\uff0c\ufe50\u3001\ufe51\uff64")


def why_not_one_robot_user_id(user_id: str) -> tuple[str, str] | None:
    """Return why user_id may reach more than one person through a robot, in Chinese and English (or None)."""
    for ch in user_id:
        code = f"U+{ord(ch):04X}"
        if ch in MENTION_SIGNS:
            return (
                f"用户 ID 不能含 {ch}（{code}，如 @all 会提醒全群）",
                f"a user id must not hold {ch} ({code}; @all mentions the whole group)",
            )
        if ch in LIST_SEPARATORS:
            return (
                f"用户 ID 不能含逗号 {ch}（{code}，那是多人）",
                f"a user id must not hold the comma {ch} ({code}; that is a list of people)",
            )
        if not _a_user_id_character(ch):
            return (
                f"用户 ID 只能含字母、数字和 _-.，不能含 {ch!r}（{code}）",
                f"a user id holds only letters, digits and _-. (not {ch!r}, {code})",
            )
    return None


def _a_user_id_character(ch: str) -> bool:
    # WeCom and DingTalk user ids are letters, digits and _-. (a name in Chinese too, for some corporations): no
    # whitespace, invisible or blank-looking character, no other punctuation (a ︐ or ، is a comma as well).
    category = unicodedata.category(ch)
    return ch in "_-." or (category in ("Lu", "Ll", "Lt", "Lo", "Nd") and ch not in BLANK_LOOKING)


def _one_person(user_id: str) -> str:
    # A user id stored before contacts refused such ids is never sent: a permanent failure, with the reason.
    reason = why_not_one_robot_user_id(user_id)
    if reason is not None:
        raise ChannelError(f"{reason[0]}，未发送 / {reason[1]}: not sent", transient=False)
    return user_id


class WeComChannel:
    """WeCom group robot: `{"msgtype": "text", "text": {"content", "mentioned_list"}}`."""

    name = "wecom"

    def __init__(self, client: httpx.AsyncClient, webhook_url: str) -> None:
        self._client, self._url = client, webhook_url

    def payload(self, message: Message) -> dict[str, Any]:
        """Return the robot message for a notification."""
        mention = _one_person(message.address)
        return {"msgtype": "text", "text": {"content": _text(message), "mentioned_list": [mention]}}

    async def send(self, message: Message) -> str:
        """Post one robot message."""
        response = await _post(self._client, self._url, self.payload(message))
        return _robot_result(response, "WeCom")


def dingtalk_signature(secret: str, timestamp_ms: int) -> str:
    """Return DingTalk's signature: base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkChannel:
    """DingTalk group robot with a signing secret: `{"msgtype": "text", "text", "at": {"atUserIds"}}`."""

    name = "dingtalk"

    def __init__(
        self,
        client: httpx.AsyncClient,
        webhook_url: str,
        secret: str | None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._client, self._url, self._secret, self._clock_ms = client, webhook_url, secret, clock_ms

    def payload(self, message: Message) -> dict[str, Any]:
        """Return the robot message for a notification."""
        return {
            "msgtype": "text",
            "text": {"content": _text(message)},
            "at": {"atUserIds": [_one_person(message.address)]},
        }

    async def send(self, message: Message) -> str:
        """Post one signed robot message."""
        url = httpx.URL(self._url)
        if self._secret:
            # Merged into the webhook's own query (access_token): httpx's params= would replace it.
            timestamp = self._clock_ms()
            url = url.copy_merge_params(
                {"timestamp": str(timestamp), "sign": dingtalk_signature(self._secret, timestamp)}
            )
        response = await _post(self._client, str(url), self.payload(message))
        return _robot_result(response, "DingTalk")


class SmsChannel:
    """A configurable SMS gateway: POST {mobile, content, idempotency_key} with a bearer token; 2xx = accepted."""

    name = "sms"

    def __init__(
        self, client: httpx.AsyncClient, gateway_url: str, token: str | None, signature: str = "【高新区】"
    ) -> None:
        self._client, self._url, self._token, self._signature = client, gateway_url, token, signature

    def payload(self, message: Message) -> dict[str, Any]:
        """Return what the gateway is given: the signed body (the rating link, the concierge's line)."""
        # An SMS has no subject line: the subject alone left out the link and the contact line people need.
        return {
            "mobile": message.address,
            "content": f"{self._signature}{message.body}",
            "idempotency_key": message.idempotency_key,
        }

    async def send(self, message: Message) -> str:
        """Hand one text to the gateway."""
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        response = await _post(self._client, self._url, self.payload(message), headers=headers)
        try:
            return str(response.json().get("id", "accepted"))
        except ValueError:
            return "accepted"
