"""An event's notices cost one read of the recipients' preferences and one write, however many recipients."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from services.notification.adapters.bureau_names import BureauNames
from services.notification.application.fanout import Audience, record_intents
from services.notification.application.intents import Intent
from services.notification.domain.deliveries import Delivery
from services.notification.domain.quiet_hours import Preferences
from services.notification.domain.templates import TemplateBook
from services.notification.projections.knowledge import CaseTitles
from shared.auth.keys import Bureau

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: no quiet hours
STAFF, ENTERPRISE = "staff:finance:s1", "enterprise:finance:91440000MA5XXXXXX1"
VARIABLES = {"case_id": "case-1", "enterprise_name": "格力", "outcome": "已解决"}


class Book:
    """Preferences by recipient; counts the reads."""

    def __init__(self) -> None:
        self.reads: list[list[str]] = []

    async def audiences(self, recipients: list[str]) -> dict[str, Audience]:
        self.reads.append(recipients)
        channels = {STAFF: ("inbox", "email"), ENTERPRISE: ("sms",)}
        return {r: Audience(Preferences(channels[r], None, None)) for r in recipients}


class Store:
    """Deliveries by id; counts the writes."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.writes: list[list[Delivery]] = []

    async def record_all(self, deliveries: list[Delivery]) -> int:
        self.writes.append(deliveries)
        new = {d.id for d in deliveries} - self.ids
        self.ids |= new
        return len(new)


def _intents(cause: str = "e1") -> list[Intent]:
    return [
        Intent(cause, "finance", "case-1", who, "case_resolved", VARIABLES) for who in (STAFF, ENTERPRISE)
    ]


def _record(intents: list[Intent], book: Book, store: Store) -> int:
    enabled = {"inbox", "email", "sms"}
    return asyncio.run(
        record_intents(intents, book.audiences, store.record_all, TemplateBook(), enabled, NOW)
    )


def test_every_recipient_of_an_event_is_read_in_one_query_and_written_in_one() -> None:
    book, store = Book(), Store()
    assert _record(_intents(), book, store) == 3  # the staff member's inbox and email, the enterprise's SMS
    assert book.reads == [[STAFF, ENTERPRISE]]
    assert [sorted(d.channel for d in w) for w in store.writes] == [["email", "inbox", "sms"]]


def test_a_redelivered_event_records_nothing_new() -> None:
    book, store = Book(), Store()
    _record(_intents(), book, store)
    assert _record(_intents(), book, store) == 0
    assert len(store.ids) == 3


def test_an_event_that_tells_nobody_reads_and_writes_nothing() -> None:
    book, store = Book(), Store()
    assert _record([], book, store) == 0
    assert book.reads == [] and store.writes == []


class Directory:
    """The bureau directory; counts the reads."""

    def __init__(self) -> None:
        self.names = {"finance": "财政金融局"}
        self.reads = 0

    async def get(self, bureau_id: str) -> Bureau | None:
        self.reads += 1
        name = self.names.get(bureau_id)
        return Bureau(id=bureau_id, name_zh=name, name_en="Bureau") if name else None


def test_a_bureau_name_is_read_once_while_kept_and_again_after() -> None:
    directory, now = Directory(), [0.0]
    names = BureauNames(directory, keep_seconds=60, clock=lambda: now[0])  # type: ignore[arg-type]

    async def run() -> list[str]:
        seen = [await names("finance"), await names("finance")]
        directory.names["finance"] = "财政金融服务局"  # renamed
        now[0] = 30.0
        seen.append(await names("finance"))
        now[0] = 61.0
        seen.append(await names("finance"))
        return seen

    assert asyncio.run(run()) == ["财政金融局", "财政金融局", "财政金融局", "财政金融服务局"]
    assert directory.reads == 2


def test_an_unknown_bureau_is_named_by_its_id_and_not_remembered() -> None:
    directory = Directory()
    names = BureauNames(directory, keep_seconds=60)  # type: ignore[arg-type]

    async def run() -> list[str]:
        first = await names("newzone")
        directory.names["newzone"] = "新区局"  # registered a moment later
        return [first, await names("newzone")]

    assert asyncio.run(run()) == ["newzone", "新区局"]


def test_case_titles_keep_the_most_recent_cases_and_forget_the_oldest_first() -> None:
    titles = CaseTitles(keep=2)
    titles.remember("case-1", "补贴资金拨付进度")
    titles.remember("case-2", "用地审批")
    titles.remember("case-1", "补贴资金拨付进度")  # seen again (a replay): now the most recent
    titles.remember("case-3", "人才公寓")
    assert titles.get("case-2") is None
    assert (titles.get("case-1"), titles.get("case-3")) == ("补贴资金拨付进度", "人才公寓")
