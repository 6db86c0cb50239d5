"""Kafka topic names: part of the published contract."""

INTAKE_REQUESTS = "intake.requests.v1"
CASE_EVENTS = "case.events.v1"
ASSIGNMENT_EVENTS = "assignment.events.v1"
CALENDAR_EVENTS = "calendar.events.v1"
# Other bureaus' finance systems report disbursement stages and payments here (signed, request_id).
DISBURSEMENT_REQUESTS = "disbursements.requests.v1"
DISBURSEMENT_EVENTS = "disbursement.events.v1"  # disbursement, arrears and their settings' events
NOTIFICATION_EVENTS = (
    "notification.events.v1"  # supervision orders (督办), enterprises' ratings, escalation rules
)


def bureau_topic(bureau: str) -> str:
    """Return a bureau's own outbound feed: its events only, the same envelope, keyed by stream id."""
    return f"bureau.{bureau}.events.v1"


def dlq(topic: str) -> str:
    """Return the dead-letter topic of a topic."""
    return f"{topic}.dlq"


# Internal: the relay writes a record here when idle, to notice a broker that lost its messages.
RELAY_HEARTBEAT = "relay.heartbeat.v1"

ALL_TOPICS = (
    INTAKE_REQUESTS,
    dlq(INTAKE_REQUESTS),
    CASE_EVENTS,
    dlq(CASE_EVENTS),
    ASSIGNMENT_EVENTS,
    dlq(ASSIGNMENT_EVENTS),
    CALENDAR_EVENTS,
    dlq(CALENDAR_EVENTS),
    DISBURSEMENT_REQUESTS,
    dlq(DISBURSEMENT_REQUESTS),
    DISBURSEMENT_EVENTS,
    dlq(DISBURSEMENT_EVENTS),
    NOTIFICATION_EVENTS,
    dlq(NOTIFICATION_EVENTS),
    RELAY_HEARTBEAT,
)

# Events are published on one topic per aggregate type, keyed by stream id.
TOPIC_BY_STREAM_TYPE = {
    "case": CASE_EVENTS,
    "board": ASSIGNMENT_EVENTS,
    "calendar": CALENDAR_EVENTS,
    "disbursement": DISBURSEMENT_EVENTS,
    "arrears": DISBURSEMENT_EVENTS,
    "disbursement_settings": DISBURSEMENT_EVENTS,
    "supervision": NOTIFICATION_EVENTS,
    "feedback": NOTIFICATION_EVENTS,
    "notification-rules": NOTIFICATION_EVENTS,
}


def topic_for(stream_type: str) -> str:
    """Return the topic that carries the events of an aggregate type."""
    try:
        return TOPIC_BY_STREAM_TYPE[stream_type]
    except KeyError:
        raise ValueError(f"no topic for stream type {stream_type!r}") from None
