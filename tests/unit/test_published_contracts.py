"""The committed contracts (OpenAPI, AsyncAPI, JSON Schemas) are what the code publishes."""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from services.published import CONTRACTS, _merge_components, documents
from shared.contracts.topics import ALL_TOPICS


def test_committed_contract_files_match_the_code() -> None:
    drifted = [
        path
        for path, text in documents().items()
        if not (CONTRACTS / path).exists() or (CONTRACTS / path).read_text() != text
    ]
    assert not drifted, (
        f"contracts drifted from the code: {drifted}; run `make contracts` and review the diff"
    )


def test_every_committed_contract_file_is_still_published() -> None:
    published = set(documents())
    committed = {str(p.relative_to(CONTRACTS)) for p in CONTRACTS.rglob("*.json")}
    assert committed <= published, f"stale files under contracts/: {sorted(committed - published)}"


def test_openapi_documents_the_public_endpoints_and_bearer_auth() -> None:
    doc = json.loads(documents()["openapi.json"])
    assert set(doc["paths"]["/api/v1/cases"]) == {"get", "post"}
    assert "/api/v1/cases/{case_id}" in doc["paths"] and "/api/v1/cases/{case_id}/events" in doc["paths"]
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


def _openapi() -> dict[str, Any]:
    return dict(json.loads(documents()["openapi.json"]))


def test_every_operation_documents_the_refusals_it_may_give_each_as_a_problem() -> None:
    doc = _openapi()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            expected = {"400", "429", "503"} | ({"401", "403"} if path.startswith("/api/v1/cases") else set())
            expected |= {"404"} if "{" in path else set()
            expected |= {"409"} if method in ("post", "put", "patch", "delete") else set()
            expected |= {"422"} if operation.get("parameters") or "requestBody" in operation else set()
            assert expected <= set(answers), (method, path, sorted(answers))
            for status, answer in answers.items():
                if status[0] in "45" and (path, status) != ("/healthz", "503"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)


def test_health_is_documented_as_the_gateway_answers_it_up_and_down() -> None:
    doc = _openapi()
    validator = jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/Health", "components": doc["components"]}
    )
    down = {"service": "gateway", "status": "degraded", "checks": {"assignment": "down: ConnectError"}}
    assert validator.is_valid(down) and validator.is_valid(
        {**down, "status": "ok", "checks": {"intake": "ok"}}
    )
    assert not validator.is_valid({"detail": "service unavailable"})
    answers = doc["paths"]["/healthz"]["get"]["responses"]
    for status in ("200", "503"):
        assert answers[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Health"
        }


def test_a_refusal_in_a_sentence_and_one_per_field_are_both_problems() -> None:
    validator = jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/Problem", "components": _openapi()["components"]}
    )
    assert validator.is_valid({"detail": "from 晚于 to / the period's from must not be after its to"})
    assert validator.is_valid({"detail": [{"loc": ["query", "x"], "msg": "unknown filter 'x'", "type": "t"}]})
    assert not validator.is_valid({"reason": "no detail"})


def test_a_decision_approved_by_an_api_key_matches_the_published_case_view() -> None:
    # Two services once published different models named Person: the case view's decision pointed at the
    # signed-in person's schema, and a real answer did not validate.
    decision = {
        "board_event_id": "8354a270-e7ef-5f9c-a6ea-bfce7d573568",
        "board_version": 163,
        "kind": "assigned",
        "label": "分配专责店小二 (concierge assigned)",
        "concierge": {"key_id": None, "name": "李国库", "post": "section_chief", "staff_id": "s-1"},
        "approved_by": {"key_id": "key-1", "name": None, "post": None, "staff_id": None},
        "decided_at": "2026-11-28T20:24:56.347000+08:00",
        "reason": "李国库: eligible",
        "rule_version": "2026.11-2",
        "previous_staff_id": None,
        "candidates": [],
    }
    schema = {"$ref": "#/components/schemas/AssignmentDecision", "components": _openapi()["components"]}
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(decision)]
    assert errors == []


def test_two_services_publishing_different_components_under_one_name_is_refused() -> None:
    merged: dict[str, Any] = {"Person": {"properties": {"role": {}}}}
    _merge_components(merged, {"Person": {"properties": {"role": {}}}})  # the same one twice is fine
    with pytest.raises(ValueError, match="Person"):
        _merge_components(merged, {"Person": {"properties": {"key_id": {}}}})


def test_each_consumer_group_reads_one_topic() -> None:
    # Members of one group subscribed to different topics get partitions from whichever leads the group,
    # and each joining rebalances the others: notification's four topics in one group once kept a case untold.
    receiving: dict[str, set[str]] = {}
    for operation in json.loads(documents()["asyncapi.json"])["operations"].values():
        if operation["action"] == "receive":
            topic, group = operation["channel"]["$ref"].rsplit("/", 1)[1].rsplit(":", 1)
            receiving.setdefault(group, set()).add(topic)
    assert len(receiving) >= 10
    assert {group: topics for group, topics in receiving.items() if len(topics) > 1} == {}


def test_readme_names_every_topic_the_system_creates() -> None:
    table = (
        (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split("## Kafka contracts")[1]
    )
    table = table.split("\n\n")[2]  # the table under the section's first paragraph
    assert [t for t in ALL_TOPICS if f"| `{t}` |" not in table] == []


def test_every_published_schema_uses_json_schema_keywords_for_its_bounds() -> None:
    # pydantic's own names (ge, le, gt, lt) leak into the OpenAPI when a bound sits where FastAPI cannot
    # translate it; a client or fuzzer reading the contract then knows no bound at all.
    leaked: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("integer", "number") and {"ge", "le", "gt", "lt"} & set(node):
                leaked.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    for name, document in documents().items():
        walk(json.loads(document), name)
    assert leaked == []
