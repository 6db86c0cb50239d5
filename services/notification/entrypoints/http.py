"""HTTP entry points: the inbox, the delivery log, contacts, and the escalation rules."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from services.notification.application.context import Notifying
from services.notification.application.intents import ENTERPRISE, SECTION, STAFF, staff_subject
from services.notification.application.rules import RulesChangedMeanwhile
from services.notification.domain.deadlines import EscalationRules
from services.notification.entrypoints.models import (
    ContactDetails,
    DeliveryView,
    RulesBody,
    shanghai,
)
from shared.auth.actors import actor_of
from shared.auth.http import Caller
from shared.auth.keys import Principal, Role
from shared.auth.rights import SettingsChanger
from shared.contracts.answers import TrueFalse
from shared.contracts.credit_code import InvalidCreditCode, validate_credit_code
from shared.crypto.vault import SubjectErased
from shared.http_query import KNOWN_QUERY_ONLY

router = APIRouter(prefix="/api/v1", tags=["notifications"])
# Another bureau's subject answers the same as an unknown one: nothing tells whether it exists.
NO_CONTACT = "本局没有这个联系人 / no such contact in your bureau"
Subject = Annotated[
    str,
    Path(
        max_length=160,
        pattern=r"^(staff|enterprise|section):[A-Za-z0-9_-]{1,64}:[^\x00-\x1f\x7f-\x9f/]{1,80}$",
    ),
]


def _n(request: Request) -> Notifying:
    return request.app.state.notifying  # type: ignore[no-any-return]


def _inbox_owner(caller: Principal) -> str:
    if caller.staff_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "收件箱属于个人，请以本人身份登录，不要用密钥 / "
            "the inbox is a person's: sign in as a person, not with a key",
        )
    return staff_subject(caller.bureau, caller.staff_id)


@router.get(
    "/inbox", summary="The signed-in person's messages, newest first", dependencies=[KNOWN_QUERY_ONLY]
)
async def inbox(
    request: Request,
    caller: Caller,
    unread: Annotated[TrueFalse, Query(description="true: unread messages only; false: all")] = "false",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    """List the signed-in person's inbox."""
    docs = await request.app.state.inbox.list(_inbox_owner(caller), unread == "true", limit, offset)
    items = [
        {
            "id": d["_id"],
            "subject": d["subject"],
            "body": d["body"],
            "escalation": d.get("escalation", False),
            "created_at": shanghai(d["created_at"]),
            "read_at": shanghai(d.get("read_at")),
        }
        for d in docs
    ]
    return {"items": items, "limit": limit, "offset": offset}


@router.post("/inbox/{message_id}/read", status_code=204, summary="Mark one of your messages read")
async def mark_read(
    request: Request, caller: Caller, message_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
) -> Response:
    """Mark a message read; another person's message is a 404."""
    if not await request.app.state.inbox.mark_read(_inbox_owner(caller), message_id, _n(request).clock()):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "你的收件箱里没有这条消息 / no such message in your inbox"
        )
    return Response(status_code=204)


@router.get(
    "/notifications", summary="The bureau's delivery log (addresses masked)", dependencies=[KNOWN_QUERY_ONLY]
)
async def delivery_log(
    request: Request,
    caller: Caller,
    case_id: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    recipient: Annotated[str | None, Query(max_length=160)] = None,
    status_: Annotated[
        Literal["pending", "sent", "failed", "withdrawn"] | None, Query(alias="status")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    """List deliveries of the caller's bureau, newest first."""
    filters = {k: v for k, v in {"case_id": case_id, "recipient": recipient, "status": status_}.items() if v}
    n = _n(request)
    found = await n.deliveries.find(caller.bureau, filters, limit, offset)
    # Not tried yet, a delivery holds no address: it goes where the contact book says when it is sent, so
    # the book's masked copy is what it shows (an erased contact has none).
    untried = [d.recipient for d in found if d.address_masked is None and d.status == "pending"]
    masked = await n.contacts.masked_addresses(untried)
    items = [
        DeliveryView(
            **{f: getattr(d, f) for f in DeliveryView.model_fields if f != "address"},
            address=d.address_masked or _masked_now(d.recipient, d.channel, d.status, masked),
        )
        for d in found
    ]
    return {"items": [i.model_dump(mode="json") for i in items], "limit": limit, "offset": offset}


def _masked_now(recipient: str, channel: str, status_: str, masked: dict[str, dict[str, str]]) -> str | None:
    if status_ != "pending":
        return None
    return recipient if channel == "inbox" else masked.get(recipient, {}).get(channel)


def _own_subject(caller: Principal, subject: str, write: bool) -> None:
    kind, bureau, rest = subject.split(":", 2)
    if bureau != caller.bureau or kind not in (STAFF, ENTERPRISE, SECTION):
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_CONTACT)
    if not write or caller.role is Role.ADMIN:
        return
    if kind == STAFF and caller.staff_id == rest:
        return  # a person keeps their own contact details and preferences
    raise HTTPException(
        status.HTTP_403_FORBIDDEN,
        "只有局管理员（或本人）可以修改联系人 / "
        "only a bureau admin (or the person themself) may change contacts",
    )


async def _refuse_unknown_recipient(n: Notifying, subject: str) -> None:
    # Contacts are kept for someone who can be told: an enterprise by its valid credit code (as cases name
    # it), a person on the roster as this service folded it. Sections have no roster here: any name goes.
    kind, bureau, rest = subject.split(":", 2)
    if kind == ENTERPRISE:
        try:
            code = validate_credit_code(rest)
        except InvalidCreditCode as exc:
            reason = f"统一社会信用代码无效 / not a valid unified social credit code: {exc}"
            raise _invalid_subject(reason) from None
        if code != rest:
            raise _invalid_subject(f"统一社会信用代码须写作 {code} / write the credit code as {code}")
    elif kind == STAFF:
        person = await n.knowledge.person(bureau, rest)
        if person is None or person.get("departed"):
            raise HTTPException(status.HTTP_404_NOT_FOUND, NO_CONTACT)


def _invalid_subject(reason: str) -> HTTPException:
    problem = {"loc": ["path", "subject"], "msg": reason, "type": "value_error"}
    return HTTPException(422, [problem])


@router.put(
    "/contacts/{subject}",
    summary="Set a recipient's addresses and preferences (stored encrypted)",
    responses={
        404: {"description": "Another bureau's subject, or a person not on the bureau's roster"},
        409: {"description": "The subject's personal data was erased and nothing can be sealed for it now"},
    },
)
async def put_contact(
    request: Request, caller: Caller, subject: Subject, body: ContactDetails
) -> dict[str, Any]:
    """Store a contact sealed under the subject's own key; answer the masked view."""
    _own_subject(caller, subject, write=True)
    await _refuse_unknown_recipient(_n(request), subject)
    details = body.model_dump(
        include={"name", "email", "mobile", "wecom_user_id", "dingtalk_user_id"}, exclude_none=True
    )
    prefs = body.model_dump(include={"channels", "quiet_start", "quiet_end", "language"}, exclude_none=True)
    try:
        n = _n(request)
        return await n.contacts.put(subject, caller.bureau, details, prefs, at=n.clock())
    except SubjectErased:
        # The key store refused a key for an erased subject (or an erasure won a race with this write).
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "该联系人的个人信息已被擦除，其密钥已销毁，现在无法为其加密保存 "
            "/ this subject's personal data was erased: its key is gone, nothing can be sealed for it now",
        ) from None


@router.get("/contacts/{subject}", summary="A recipient's contact, masked", dependencies=[KNOWN_QUERY_ONLY])
async def get_contact(request: Request, caller: Caller, subject: Subject) -> dict[str, Any]:
    """Return a contact as lists show it: masked."""
    _own_subject(caller, subject, write=False)
    found = await _n(request).contacts.masked(subject)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_CONTACT)
    return found


@router.delete(
    "/contacts/{subject}", status_code=204, summary="Erase a recipient's personal data (crypto-shredding)"
)
async def erase_contact(request: Request, caller: Caller, subject: Subject) -> Response:
    """Destroy the subject's key: every copy of their contact, in events and views, reads as erased."""
    _own_subject(caller, subject, write=True)
    if caller.role is not Role.ADMIN:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "只有局管理员可以擦除个人信息 / only a bureau admin may erase personal data",
        )
    n = _n(request)
    erased = await n.contacts.erase(subject)
    # The delivery log's masked copies go too (harmless when there was nothing to erase).
    await n.deliveries.forget_addresses(caller.bureau, subject)
    if not erased:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_CONTACT)
    return Response(status_code=204)


@router.get(
    "/notifications/rules",
    summary="The bureau's reminder and escalation ladder",
    dependencies=[KNOWN_QUERY_ONLY],
)
async def get_rules(request: Request, caller: Caller) -> dict[str, Any]:
    """Return the rules in force, with their version."""
    return dataclasses.asdict(await _n(request).rules.current(caller.bureau))


@router.put(
    "/notifications/rules", summary="Change the ladder (a new version; the bureau's open ladders move to it)"
)
async def put_rules(request: Request, caller: SettingsChanger, body: RulesBody) -> dict[str, Any]:
    """Record new rules (the bureau's settings: leadership, as the rights table says); stale version: 409."""
    current = await _n(request).rules.current(caller.bureau)
    given = body.model_dump(exclude={"expected_version"}, exclude_none=True)
    rules = EscalationRules(**{**dataclasses.asdict(current), **given})
    if problems := rules.problems():
        # The domain states each problem in English (field names and ranges); the Chinese says what it is.
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"规则取值无效 / {'; '.join(problems)}")
    try:
        changed = await _n(request).rules.change(
            caller.bureau, rules, actor_of(caller), body.expected_version
        )
    except RulesChangedMeanwhile as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"规则已被修改，请重新读取后再改 / {exc}") from None
    return dataclasses.asdict(changed)
