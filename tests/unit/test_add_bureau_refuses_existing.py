"""`make add-bureau` onboards only a new bureau: an existing id (or one differing only by case, or whose
consumer-group prefix overlaps) is refused with nothing written, no new keys and no new Kafka password."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError

from shared.auth import add_bureau
from shared.auth.add_bureau import _bureau, register_new
from shared.auth.keys import API_KEYS, BUREAUS, Bureau


class FakeCollection:
    """Just enough of a collection: find (all documents), insert_one that fails on a duplicate _id."""

    def __init__(self, db: FakeDb) -> None:
        self.db = db
        self.docs: dict[str, dict[str, Any]] = {}
        self.hidden_from_reads: set[str] = set()  # written by a racing run after our read

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        for key, doc in list(self.docs.items()):
            if key not in self.hidden_from_reads:
                yield {"_id": doc["_id"]}

    def find(self, query: dict[str, Any], projection: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        assert query == {} and projection == {"_id": 1}
        return self._iterate()

    async def insert_one(self, doc: dict[str, Any]) -> None:
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("E11000 duplicate key error")
        self.docs[doc["_id"]] = dict(doc)
        self.db.writes.append(doc["_id"])


class FakeDb(dict[str, FakeCollection]):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def __missing__(self, name: str) -> FakeCollection:
        self[name] = FakeCollection(self)
        return self[name]


class Topics:
    def __init__(self, db: FakeDb) -> None:
        self.db, self.created_before_writes = db, 0

    async def __call__(self) -> None:
        self.created_before_writes += not self.db.writes


def registered(*ids: str) -> FakeDb:
    db = FakeDb()
    for bureau_id in ids:
        db[BUREAUS].docs[bureau_id] = {"_id": bureau_id, "name_zh": "财政金融局", "name_en": "Finance Bureau"}
    return db


async def refused(db: FakeDb, bureau_id: str) -> str:
    topics = Topics(db)
    with pytest.raises(SystemExit) as exc:
        await register_new(db, Bureau(id=bureau_id, name_zh="x", name_en="y"), topics)  # type: ignore[arg-type]
    assert db.writes == [] and not db[API_KEYS].docs, "a refused run must write nothing"
    return str(exc.value.code)


async def test_an_existing_bureau_is_refused_and_keeps_its_name_keys_and_topic() -> None:
    db = registered("finance")
    topics = Topics(db)

    with pytest.raises(SystemExit) as exc:
        await register_new(db, Bureau(id="finance", name_zh="x", name_en="y"), topics)  # type: ignore[arg-type]

    message = str(exc.value.code)
    assert "finance already exists" in message and "nothing was changed" in message and "已存在" in message
    assert db[BUREAUS].docs["finance"]["name_en"] == "Finance Bureau"
    assert db.writes == [] and not db[API_KEYS].docs and topics.created_before_writes == 0


async def test_a_run_that_loses_the_race_for_an_id_is_refused_by_the_insert() -> None:
    db = registered("planning")
    db[BUREAUS].hidden_from_reads.add("planning")  # the other run wrote it after this one read the ids

    message = await refused(db, "planning")

    assert "planning already exists" in message


async def test_an_id_differing_only_by_case_is_refused_naming_the_existing_one() -> None:
    message = await refused(registered("Planning"), "planning")

    assert "bureau Planning already exists" in message and "only by case" in message


def test_a_new_id_with_upper_case_is_refused_before_connecting() -> None:
    args = argparse.Namespace(id="Planning", name_zh="规划建设局", name_en="Planning Bureau")

    with pytest.raises(SystemExit) as exc:
        _bureau(args)

    assert "lower-case" in str(exc.value.code) and "e.g. planning" in str(exc.value.code)


def test_the_zone_pseudo_bureau_is_refused() -> None:
    with pytest.raises(SystemExit) as exc:
        _bureau(argparse.Namespace(id="zone", name_zh="x", name_en="y"))

    assert "reserved" in str(exc.value.code)


@pytest.mark.parametrize(("existing", "new"), [("fin", "fin-ance"), ("fin-ance", "fin")])
async def test_an_id_whose_consumer_group_prefix_overlaps_another_is_refused(existing: str, new: str) -> None:
    message = await refused(registered(existing), new)

    assert f"existing bureau {existing}" in message and "overlaps" in message


@pytest.mark.parametrize("new", ["case", "notification", "assignment", "disbursement", "intake", "case-x"])
async def test_an_id_whose_group_prefix_would_cover_a_services_own_groups_is_refused(new: str) -> None:
    # `case-` covers case-view, case-story and case-money: a bureau's systems could join the case query's groups.
    message = await refused(registered(), new)

    assert f"the id {new} would name the consumer groups" in message and "nothing was changed" in message


async def test_a_new_bureau_is_registered_with_its_keys_after_its_topic_exists() -> None:
    db = registered("finance", "fin_audit")
    topics = Topics(db)

    integration, admin = await register_new(
        db,  # type: ignore[arg-type]
        Bureau(id="planning", name_zh="规划建设局", name_en="Planning Bureau"),
        topics,
    )

    assert db[BUREAUS].docs["planning"] == {
        "_id": "planning",
        "name_zh": "规划建设局",
        "name_en": "Planning Bureau",
    }
    assert integration.startswith("czx_planning_") and admin.startswith("czx_planning_")
    assert len(db[API_KEYS].docs) == 2 and topics.created_before_writes == 1


async def test_the_command_exits_non_zero_and_prints_no_password_for_an_existing_bureau(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = registered("finance")

    class Client:
        async def close(self) -> None:
            pass

    class FakeMongo:
        def __init__(self) -> None:
            self.db, self.client = db, Client()

    async def no_topics(*_: Any) -> None:
        raise AssertionError("no topic for a refused bureau")

    monkeypatch.setattr(add_bureau.Mongo, "from_settings", classmethod(lambda cls, settings: FakeMongo()))
    monkeypatch.setattr(add_bureau, "ensure_topics", no_topics)

    with pytest.raises(SystemExit) as exc:
        # main runs its own event loop: run it in a thread, as the command line would.
        await asyncio.to_thread(add_bureau.main, ["finance", "--name-zh", "x", "--name-en", "y"])

    assert isinstance(exc.value.code, str) and "already exists" in exc.value.code  # exit status 1
    assert "kafka_password" not in capsys.readouterr().out
    assert db.writes == []
