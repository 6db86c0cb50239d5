"""Opening a case (立案): the only decision intake makes, pure and synchronous."""

from __future__ import annotations

import hashlib
import uuid

from shared.contracts.cases import OpenCaseRequest, SealedContact
from shared.contracts.events import CaseOpened

CASE_NAMESPACE = uuid.UUID("6b0c1d1e-8f3a-4c59-9b7e-2f6f1d3a9c42")


def request_fingerprint(request: OpenCaseRequest) -> str:
    """Return a SHA-256 of the request's canonical JSON, to tell a retry from a reused key.

    The contact is left out: a hash of personal data kept in an immutable event could be matched against
    guessed mobiles long after the contact was erased."""
    return hashlib.sha256(request.model_dump_json(exclude={"contact"}).encode()).hexdigest()


def case_id_for(command_id: str) -> str:
    """Derive the case id from the command id, so a retried command names the same case."""
    return str(uuid.uuid5(CASE_NAMESPACE, command_id))


def contact_subject(bureau: str, request: OpenCaseRequest) -> str:
    """Return whose key seals the request's contact: the enterprise, as this bureau knows it."""
    return f"enterprise:{bureau}:{request.enterprise.credit_code}"


def open_case(
    case_id: str,
    request: OpenCaseRequest,
    *,
    source: str,
    request_ref: str,
    contact: SealedContact | None = None,
) -> CaseOpened:
    """Return the CaseOpened event for a validated request (its contact already sealed)."""
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
        contact=contact,
    )
