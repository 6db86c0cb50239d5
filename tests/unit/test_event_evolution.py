"""Contracts that evolve: an event's newer schema version is read by an unchanged older consumer, an older one by
a newer consumer (upcasters), and every registered version of a type only adds optional fields."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.casequery.projections.case_view import fold_all
from shared.contracts.envelope import Actor, EventEnvelope
from shared.contracts.events import EVENT_MODELS, UPCASTERS, CaseOpened, parse_event_data
from tests.support import credit_code

V1_DATA = {
    "case_id": "c-1",
    "enterprise": {"name": "格力电器(郑州)有限公司", "credit_code": credit_code(7)},
    "category": "fund_disbursement",
    "title": "补贴资金拨付",
    "description": "资金未到账",
    "channel": "visit",
    "legacy": False,
    "source": "http",
    "request_ref": "k",
    "request_hash": "0" * 64,
}


def _envelope(version: int, data: dict) -> EventEnvelope:
    now = datetime.now(UTC)
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type="CaseOpened",
        schema_version=version,
        stream_id="c-1",
        stream_type="case",
        version=1,
        bureau="finance",
        occurred_at=now,
        recorded_at=now,
        actor=Actor(kind="service", id="t"),
        correlation_id=uuid.uuid4(),
        data=data,
    )


def test_a_v2_event_from_an_upgraded_producer_is_read_by_an_unchanged_v1_consumer():
    v2 = {**V1_DATA, "priority": "high", "source_system": "12345 热线"}  # fields a v2 producer added
    parsed = parse_event_data("CaseOpened", 2, v2)
    assert isinstance(parsed, CaseOpened) and parsed.title == "补贴资金拨付"
    view = fold_all([_envelope(2, v2)])  # the case view, a v1 consumer, folds it as before
    assert view is not None and view["title"] == "补贴资金拨付" and view["status"] == "open"


def test_an_older_event_is_upcast_step_by_step_to_the_newest_version(monkeypatch):
    class CaseOpenedV2(CaseOpened):
        priority: str

    monkeypatch.setitem(EVENT_MODELS, ("CaseOpened", 2), CaseOpenedV2)
    monkeypatch.setitem(UPCASTERS, ("CaseOpened", 1), lambda data: {**data, "priority": "normal"})
    parsed = parse_event_data("CaseOpened", 1, dict(V1_DATA))
    assert isinstance(parsed, CaseOpenedV2) and parsed.priority == "normal"


def test_an_unknown_event_type_is_refused():
    with pytest.raises(ValueError, match="unknown event"):
        parse_event_data("NoSuchEvent", 1, {})


def test_every_registered_version_of_an_event_only_adds_optional_fields_to_the_one_before():
    by_type: dict[str, dict[int, type]] = {}
    for (name, version), cls in EVENT_MODELS.items():
        by_type.setdefault(name, {})[version] = cls
    for name, versions in by_type.items():
        for version in sorted(versions)[1:]:
            if (name, version - 1) in UPCASTERS:
                continue  # a non-additive change, carried by its upcaster
            old, new = versions[version - 1].model_fields, versions[version].model_fields
            assert set(old) <= set(new), f"{name} v{version} drops fields"
            added = set(new) - set(old)
            assert all(not new[f].is_required() for f in added), f"{name} v{version} adds a required field"
