"""Audit of the event store: walk the hash chain and report the first break or the verified head."""

from shared.audit.walk import Break, Report, verify_chain

__all__ = ["Break", "Report", "verify_chain"]
