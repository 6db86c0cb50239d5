"""Kafka intake contract: another bureau's system submits a case on `intake.requests.v1`."""

from __future__ import annotations

from pydantic import Field

from shared.contracts.cases import OpenCaseRequest


class IntakeRequestV1(OpenCaseRequest):
    """A request to open a case, sent by another bureau's system over Kafka."""

    request_id: str = Field(
        min_length=1, max_length=128, description="Sender-chosen id; a request sent twice opens one case"
    )
    bureau: str = Field(min_length=1, max_length=64, description="Bureau that owns the case, e.g. finance")
    submitted_by: str | None = Field(default=None, max_length=128, description="Sending system, for audit")
