"""Relay service settings (env prefix RELAY_, connections from the shared names)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ConnectionSettings


class RelaySettings(ConnectionSettings):
    """Where the relay answers /healthz, how it batches, and when its health turns red."""

    model_config = SettingsConfigDict(env_prefix="RELAY_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8103
    batch_size: int = 500
    linger_ms: int = 2
    # Progress is saved at most this often while events flow (and at once when idle or stopping): a crash
    # republishes at most this window, which consumers drop. Fewer saves, fewer database round trips.
    checkpoint_every_s: float = Field(1.0, ge=0)
    # The store's head (what the feed and rebuilds read up to) moves at most this often while events flow, and
    # at once when the relay is idle: one database write per batch saved; positions above it are complete.
    head_every_s: float = Field(0.5, ge=0)
    # After a wake-up, wait this long before sequencing, so that events appended a moment apart (a decision
    # written onto several cases, several services' appends under load) are numbered and published together.
    coalesce_ms: int = Field(4, ge=0, le=1000)
    # A change stream answer with no insert (SecantusDB wakes the stream for every write on the server, to any
    # collection, the sequencer's own updates included) is followed by this pause before asking again: fewer
    # empty round trips, but an insert meanwhile waits for the pause to end. Short, because the appends a new
    # case causes (its concierge) come while the other services' writes for the same case wake the stream.
    empty_wake_settle_ms: int = Field(5, ge=0, le=1000)
    # /healthz answers 503 when the store's head is more than this many events ahead of what was relayed ...
    max_lag: int = Field(10_000, ge=1)
    # ... or when events wait and the relay has neither published nor been caught up for this long.
    stall_seconds: float = Field(60.0, gt=0)
    # A second instance stands by; it takes over this long after the publishing one stopped renewing.
    lease_seconds: float = Field(15.0, gt=0)
    # GET /api/v1/audit/verify reads the chain in windows of this many positions (memory stays flat).
    audit_batch_size: int = Field(2000, ge=1, le=50_000)
    # Also publish every event to its bureau's own topic (bureau.<id>.events.v1), so a bureau's systems can be
    # allowed to read their events only (README, "Bureau feeds").
    bureau_feeds: bool = True
