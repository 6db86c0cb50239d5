"""What the system publishes for other bureaus: OpenAPI, AsyncAPI and JSON Schemas.

`python -m services.published` (or `make contracts`) writes them under contracts/; a test fails when
the committed files drift from the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel

from services.assignment.bootstrap import build_app as build_assignment
from services.assignment.entrypoints.kafka import subscribe_policies
from services.assignment.settings import AssignmentSettings
from services.casequery.bootstrap import build_app as build_casequery
from services.casequery.entrypoints.kafka import (
    subscribe_case_money,
    subscribe_case_stories,
    subscribe_case_view,
)
from services.casequery.settings import CaseQuerySettings
from services.disbursement.bootstrap import build_app as build_disbursement
from services.disbursement.entrypoints.kafka import subscribe_read_models, subscribe_reports
from services.disbursement.settings import DisbursementSettings
from services.intake.bootstrap import build_app as build_intake
from services.intake.entrypoints.kafka import subscribe_intake_requests
from services.intake.settings import IntakeSettings
from services.notification.bootstrap import build_app as build_notification
from services.notification.entrypoints.kafka import subscribe_notifications
from services.notification.settings import NotificationSettings
from services.relay.bootstrap import build_app as build_relay
from services.relay.settings import RelaySettings
from shared.contracts.cases import OpenCaseRequest
from shared.contracts.disbursement import (
    DISBURSEMENT_EVENT_MODELS,
    DisbursementReportV1,
    OpenArrearsRequest,
    OpenDisbursementRequest,
)
from shared.contracts.envelope import EventEnvelope
from shared.contracts.events import EVENT_MODELS
from shared.contracts.intake import IntakeRequestV1
from shared.contracts.topics import (
    ASSIGNMENT_EVENTS,
    CASE_EVENTS,
    DISBURSEMENT_EVENTS,
    DISBURSEMENT_REQUESTS,
    INTAKE_REQUESTS,
    NOTIFICATION_EVENTS,
    bureau_topic,
    dlq,
)
from shared.messaging.pacing import FetchWait

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
API_TITLE = "专责店小二 (dedicated concierge) API"
VERSION = "1.0.0"


def openapi() -> dict[str, Any]:
    """Return the OpenAPI document of the whole API as the gateway serves it."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": API_TITLE,
            "version": VERSION,
            "description": "One base URL; every /api call needs `Authorization: Bearer <token>` (a person's "
            "token or a bureau's API key), except sign-in, refresh and the enterprise's rating link.",
        },
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    apps = (
        build_intake(IntakeSettings()),
        build_casequery(CaseQuerySettings()),
        build_assignment(AssignmentSettings()),
        build_disbursement(DisbursementSettings()),
        build_notification(NotificationSettings()),
        build_relay(RelaySettings()),
    )
    for app in apps:
        doc = app.openapi()
        for path, methods in doc["paths"].items():
            if path == "/healthz" and path in merged["paths"]:
                continue
            merged["paths"].setdefault(path, {}).update(methods)
        for section in ("schemas", "securitySchemes"):
            _merge_components(merged["components"][section], doc.get("components", {}).get(section, {}))
    _document_common_answers(merged)
    merged["paths"] = dict(sorted(merged["paths"].items()))
    merged["components"]["schemas"] = dict(sorted(merged["components"]["schemas"].items()))
    return merged


PROBLEM = {
    "title": "Problem",
    "description": "Why a request was refused: a sentence (Chinese first, then English), or, for invalid "
    "fields, one entry per field",
    "type": "object",
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
            ]
        }
    },
    "required": ["detail"],
}
HEALTH = {
    "title": "Health",
    "description": "The gateway's health: each service behind it (`ok`, `ok: 1 of 2 instances answer; …`, "
    "`down: <reason>` or `degraded: <what>`)",
    "type": "object",
    "properties": {
        "service": {"type": "string"},
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["service", "status", "checks"],
}
# Answers any operation may give, beside its own (README "Errors"); the gateway and every service give them.
EVERY_OPERATION = {
    "400": "The path holds a control character",
    "429": "Too many requests for this API key or client (see Retry-After)",
    "503": "A service behind the gateway is unavailable or too slow (see Retry-After); nothing is lost by a "
    "retry with the same Idempotency-Key",
}
SIGNED_IN = {
    "401": "No, or a wrong, revoked or expired key or token",
    "403": "The caller's post or role does not give the right (the reason names it)",
}
WITH_PATH_ID = {"404": "No such resource in your bureau (another bureau's is not found either)"}
WRITING = {
    "409": "Refused by a rule now, or a concurrent change, or an Idempotency-Key used before with another "
    "request (the reason says which); nothing was recorded"
}
WITH_INPUT = {
    "422": "Invalid input: a field, a query parameter the operation does not take, or a rule (the reason "
    "says which); nothing was recorded"
}
WITH_BODY = {"413": "The body is over the gateway's limit"}


def _document_common_answers(document: dict[str, Any]) -> None:
    """Document on every operation the refusals it may answer (and one Problem schema for all of them)."""
    document["components"]["schemas"]["Problem"] = PROBLEM
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            _path_parameters_hold_no_control_characters(operation)
            answers = operation.setdefault("responses", {})
            common = dict(EVERY_OPERATION)
            if path.startswith("/api/") and not path.startswith("/api/v1/feedback/"):
                common |= SIGNED_IN  # sign-in and refresh too: a wrong password or token is a 401
            if "{" in path:
                common |= WITH_PATH_ID
            if method != "get":
                common |= WRITING
            if operation.get("parameters") or "requestBody" in operation:
                common |= WITH_INPUT
            if "requestBody" in operation:
                common |= WITH_BODY
            for status, description in common.items():
                answers.setdefault(status, {"description": description})
            for status, answer in answers.items():
                # A refusal's body is a Problem: a sentence or per-field entries (FastAPI names the latter).
                if status.startswith("4") or status.startswith("5"):
                    answer["content"] = problem
            if path == "/healthz":
                _health_answers(document, answers)
            operation["responses"] = dict(sorted(answers.items()))


def _health_answers(document: dict[str, Any], answers: dict[str, Any]) -> None:
    # /healthz answers the gateway's health both when all is well (200) and when a service is down (503).
    document["components"]["schemas"]["Health"] = HEALTH
    health = {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}
    answers["200"] = {"description": "Every service behind the gateway answers", "content": health}
    answers["503"] = {
        "description": "A service behind the gateway is down (status degraded, the failing checks named)",
        "content": health,
    }


# A path segment with a control character is a 400 at the door (README "Errors"): the schema says so.
PATH_SEGMENT_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]+$"


def _path_parameters_hold_no_control_characters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("in") == "path" and schema.get("type") == "string" and "pattern" not in schema:
            schema["pattern"] = PATH_SEGMENT_PATTERN


def _merge_components(merged: dict[str, Any], more: dict[str, Any]) -> None:
    """Add one service's components; two different ones under one name would make one service's $ref lie."""
    for name, component in more.items():
        if name in merged and merged[name] != component:
            raise ValueError(f"two services publish different components named {name!r}: rename one model")
        merged[name] = component


def asyncapi() -> dict[str, Any]:
    """Return the AsyncAPI document of the Kafka contracts, generated by faststream."""
    broker = KafkaBroker("kafka:9092")
    unused: Any = None  # the handlers are declared for their schemas only, never called
    subscribe_intake_requests(
        broker, recorder=unused, bureaus=unused, group="intake", fetch_wait=FetchWait(20)
    )
    subscribe_case_view(broker, views=unused, group="case-view", fetch_wait=FetchWait(20))
    subscribe_case_stories(broker, stories=unused, group="case-story", fetch_wait=FetchWait(20))
    subscribe_case_money(broker, money=unused, group="case-money", fetch_wait=FetchWait(20))
    subscribe_notifications(broker, notifying=lambda: unused, group="notification", fetch_wait=FetchWait(20))
    subscribe_policies(
        broker,
        boards=unused,
        cases=unused,
        calendars=unused,
        summaries=unused,
        group="assignment",
        fetch_wait=FetchWait(20),
    )
    subscribe_reports(broker, recorder=unused, bureaus=unused, group="disbursement", fetch_wait=FetchWait(20))
    subscribe_read_models(
        broker, writer=unused, dedupe=unused, group="disbursement-views", fetch_wait=FetchWait(20)
    )
    broker.publisher(
        DISBURSEMENT_EVENTS,
        schema=EventEnvelope,
        title=f"{DISBURSEMENT_EVENTS}:relay",
        description="Every recorded disbursement, arrears and settings event, key = stream id, at least once.",
    )
    broker.publisher(
        NOTIFICATION_EVENTS,
        schema=EventEnvelope,
        title=f"{NOTIFICATION_EVENTS}:relay",
        description="Supervision orders (督办), enterprises' ratings through their link, escalation rules; "
        "key = stream id, at least once.",
    )
    broker.publisher(
        bureau_topic("{bureau}"),
        schema=EventEnvelope,
        title="bureau.{bureau}.events.v1:relay",
        description="A bureau's own feed: its events only, every aggregate, key = stream id, in global order "
        "(per stream in version order), at least once; dedupe by event_id. Readable by that bureau's Kafka user.",
    )
    broker.publisher(
        CASE_EVENTS,
        schema=EventEnvelope,
        title=f"{CASE_EVENTS}:relay",
        description="Every recorded case event, key = case id, at least once; dedupe by event_id.",
    )
    for topic in (
        INTAKE_REQUESTS,
        CASE_EVENTS,
        ASSIGNMENT_EVENTS,
        DISBURSEMENT_REQUESTS,
        DISBURSEMENT_EVENTS,
        NOTIFICATION_EVENTS,
    ):
        broker.publisher(
            dlq(topic),
            schema=bytes,
            title=f"{dlq(topic)}:dead-letters",
            description="The original bytes and key; headers dlq-reason, dlq-source-topic, "
            "dlq-source-partition, dlq-source-offset, dlq-consumer-group, dlq-failed-at. Header values that "
            "were not UTF-8 are base64, named in dlq-base64-headers; a record too large to publish is cut, "
            "with dlq-truncated (value, key, headers), dlq-original-size, dlq-original-sha256 (and "
            "dlq-original-key-size, dlq-original-key-sha256, dlq-original-header-count), or sent as a stub "
            "with dlq-publish-error.",
        )
    app = FastStream(broker, specification=AsyncAPI(title=API_TITLE + " — Kafka", version=VERSION))
    return _for_other_bureaus(_records_not_batches(dict(app.schema.to_specification().to_jsonable())))


def _records_not_batches(document: dict[str, Any]) -> dict[str, Any]:
    """Describe what one record on the topic holds: a batch subscriber's handler takes a list of them."""
    schemas = document.get("components", {}).get("schemas", {})
    for message in document.get("components", {}).get("messages", {}).values():
        name = message.get("payload", {}).get("$ref", "").rsplit("/", 1)[-1]
        schema = schemas.get(name, {})
        if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
            message["payload"] = {"$ref": schema["items"]["$ref"]}
            del schemas[name]
    return document


SIGNED_TOPICS = (INTAKE_REQUESTS, DISBURSEMENT_REQUESTS)
SIGNATURE_HEADERS = {
    "type": "object",
    "properties": {
        "x-signature-key-id": {"type": "string", "description": "the integration key id (ASCII)"},
        "x-signature-ed25519": {
            "type": "string",
            "contentEncoding": "base64",
            "description": "standard base64 of the 64-byte Ed25519 signature over exactly the value bytes",
        },
    },
    "required": ["x-signature-key-id", "x-signature-ed25519"],
}


def _for_other_bureaus(document: dict[str, Any]) -> dict[str, Any]:
    """Say what another bureau's system needs: the listener it reaches and how it signs in, the signature headers
    of the request topics, and no correlation header there (the case's correlation id derives from request_id)."""
    document["servers"] = {
        "development": {
            **document["servers"]["development"],
            "description": "the compose network's internal listener: the services only",
        },
        "external": {
            "host": "{KAFKA_EXTERNAL_HOST}:{KAFKA_EXTERNAL_PORT}",
            "protocol": "kafka",
            "description": "the listener other bureaus reach (compose): SASL/SCRAM-SHA-512 as bureau-<id>, "
            "ACLs allow reading bureau.<id>.events.v1 (groups <id>-…) and writing the request topics",
            "variables": {
                "KAFKA_EXTERNAL_HOST": {"default": "localhost"},
                "KAFKA_EXTERNAL_PORT": {"default": "9094"},
            },
            "security": [{"$ref": "#/components/securitySchemes/bureauUser"}],
        },
    }
    document["components"]["securitySchemes"] = {
        "bureauUser": {
            "type": "scramSha512",
            "description": "the Kafka user bureau-<id> and the password make add-bureau printed once",
        }
    }
    for name, message in document["components"]["messages"].items():
        if name.split(":", 1)[0] in SIGNED_TOPICS:
            message.pop("correlationId", None)
            message["headers"] = SIGNATURE_HEADERS
    for name, channel in document["channels"].items():
        topic = channel.get("address", name)
        if topic in SIGNED_TOPICS or (topic.startswith("bureau.") and topic.endswith(".events.v1")):
            channel["servers"] = [*channel.get("servers", []), {"$ref": "#/servers/external"}]
    return document


def json_schemas() -> dict[str, dict[str, Any]]:
    """Return the JSON Schema of every published model, by file name."""
    models: dict[str, type[BaseModel]] = {
        "EventEnvelope": EventEnvelope,
        "IntakeRequestV1": IntakeRequestV1,
        "OpenCaseRequest": OpenCaseRequest,
        "DisbursementReportV1": DisbursementReportV1,
        "OpenDisbursementRequest": OpenDisbursementRequest,
        "OpenArrearsRequest": OpenArrearsRequest,
    }
    events = {**EVENT_MODELS, **DISBURSEMENT_EVENT_MODELS}
    models.update({f"{name}.v{version}": cls for (name, version), cls in events.items()})
    return {f"{name}.json": cls.model_json_schema() for name, cls in sorted(models.items())}


def documents() -> dict[str, str]:
    """Return every published document by its path under contracts/."""
    docs = {"openapi.json": openapi(), "asyncapi.json": asyncapi()}
    docs.update({f"schemas/{name}": schema for name, schema in json_schemas().items()})
    return {
        path: json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        for path, doc in docs.items()
    }


def main() -> None:
    """Write the documents under contracts/."""
    for path, text in documents().items():
        target = CONTRACTS / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target.relative_to(CONTRACTS.parent)}")


if __name__ == "__main__":
    main()
