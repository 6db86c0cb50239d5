"""Kafka intake contract: another bureau's system submits a case on `intake.requests.v1`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.contracts.cases import OpenCaseRequest
from shared.contracts.text import Identifier, Line200


class IntakeRequestV1(OpenCaseRequest):
    """A request to open a case, sent by another bureau's system over Kafka."""

    # Both ids become part of the command id (`intake:{bureau}:kafka:{request_id}`): the Identifier pattern
    # (no ":") keeps two bureaus' requests from ever naming the same command.
    request_id: Annotated[
        Identifier,
        Field(description="Sender-chosen id (A-Z a-z 0-9 _ -); a request sent twice opens one case"),
    ]
    bureau: Annotated[Identifier, Field(description="Bureau that owns the case, e.g. finance")]
    submitted_by: Annotated[Line200, Field(max_length=128)] | None = Field(
        default=None, description="Sending system, for audit"
    )
