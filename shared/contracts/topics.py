"""Kafka topic names: part of the published contract."""

INTAKE_REQUESTS = "intake.requests.v1"
CASE_EVENTS = "case.events.v1"


def dlq(topic: str) -> str:
    """Return the dead-letter topic of a topic."""
    return f"{topic}.dlq"


ALL_TOPICS = (INTAKE_REQUESTS, dlq(INTAKE_REQUESTS), CASE_EVENTS, dlq(CASE_EVENTS))
