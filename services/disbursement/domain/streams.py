"""Stream names and folds: a disbursement or arrears aggregate from its recorded events."""

from __future__ import annotations

from collections.abc import Iterable

from services.disbursement.domain.arrears import Arrears
from services.disbursement.domain.disbursement import Disbursement
from shared.contracts.disbursement import ArrearsRecorded, DisbursementOpened, parse_disbursement_event
from shared.contracts.envelope import EventEnvelope

DISBURSEMENT = "disbursement"  # stream types (the relay's topic map names them)
ARREARS = "arrears"
SETTINGS = "disbursement_settings"


def disbursement_stream(disbursement_id: str) -> str:
    """Return the stream id of a disbursement."""
    return f"disbursement-{disbursement_id}"


def arrears_stream(arrears_id: str) -> str:
    """Return the stream id of arrears."""
    return f"arrears-{arrears_id}"


def settings_stream(bureau: str) -> str:
    """Return the stream id of a bureau's disbursement settings."""
    return f"disbursement-settings-{bureau}"


def fold_disbursement(envelopes: Iterable[EventEnvelope]) -> Disbursement | None:
    """Fold a disbursement stream; None when it holds no opening."""
    state: Disbursement | None = None
    for e in envelopes:
        event = parse_disbursement_event(e.event_type, e.schema_version, e.data)
        if isinstance(event, DisbursementOpened):
            state = Disbursement.open(event, e.occurred_at)
        elif state is not None:
            state.apply(event, e.version, e.recorded_at, e.actor)
    return state


def fold_arrears(envelopes: Iterable[EventEnvelope]) -> Arrears | None:
    """Fold an arrears stream; None when it holds no record."""
    state: Arrears | None = None
    for e in envelopes:
        event = parse_disbursement_event(e.event_type, e.schema_version, e.data)
        if isinstance(event, ArrearsRecorded):
            state = Arrears(event, e.version)
        elif state is not None:
            state.apply(event, e.version)
    return state
