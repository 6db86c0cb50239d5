"""Disbursement service settings (env prefix DISBURSEMENT_, connections from the shared names)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ConnectionSettings
from shared.contracts.disbursement import DEFAULT_STUCK_AFTER_WORKDAYS


class DisbursementSettings(ConnectionSettings):
    """Where the service listens, its consumer group, the dashboard default and Kafka signing."""

    model_config = SettingsConfigDict(env_prefix="DISBURSEMENT_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8105
    consumer_group: str = "disbursement"
    # Default of the per-bureau setting (PUT /api/v1/disbursements/settings): a disbursement with no stage
    # change for this many working days is stuck (the dashboard) and overdue (the list filter).
    stuck_after_workdays: int = Field(DEFAULT_STUCK_AFTER_WORKDAYS, ge=1, le=60)
    # Every report on disbursements.requests.v1 must carry a valid signature of a registered integration key of
    # the bureau it names (shared/auth/signing.py). Off only while a bureau migrates: unsigned reports are then
    # believed; signed ones are still verified.
    require_signed_messages: bool = True
    signing_key_cache_seconds: float = Field(5.0, ge=0)
    # Rows of the list sheet in report.xlsx (the dashboard sheet is always complete).
    report_max_rows: int = Field(10_000, ge=1, le=100_000)
