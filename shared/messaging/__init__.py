"""Kafka messaging: broker factory, outbox relay, and the consumer runtime (ack, dedupe, retry, DLQ)."""
