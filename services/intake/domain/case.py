"""Opening a case (立案): the only decision intake makes, pure and synchronous."""

from __future__ import annotations

import hashlib
import uuid

from shared.contracts.cases import OpenCaseRequest
from shared.contracts.events import CaseOpened

CASE_NAMESPACE = uuid.UUID("6b0c1d1e-8f3a-4c59-9b7e-2f6f1d3a9c42")


def request_fingerprint(request: OpenCaseRequest) -> str:
    """Return a SHA-256 of the request's canonical JSON, to tell a retry from a reused key."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def case_id_for(command_id: str) -> str:
    """Derive the case id from the command id, so a retried command names the same case."""
    return str(uuid.uuid5(CASE_NAMESPACE, command_id))


def open_case(case_id: str, request: OpenCaseRequest, *, source: str, request_ref: str) -> CaseOpened:
    """Return the CaseOpened event for a validated request."""
    return CaseOpened(
        case_id=case_id,
        enterprise=request.enterprise,
        category=request.category,
        title=request.title,
        description=request.description,
        channel=request.channel,
        legacy=request.legacy,
        source=source,
        request_ref=request_ref,
        request_hash=request_fingerprint(request),
    )
