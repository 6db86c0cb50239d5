"""Run the disbursement service: `python -m services.disbursement`."""

from services.disbursement.bootstrap import build_app
from services.disbursement.settings import DisbursementSettings
from shared.service import serve


def main() -> None:
    """Start the disbursement service with settings from the environment."""
    settings = DisbursementSettings()
    serve(build_app(settings), settings.host, settings.port, settings.log_level)


if __name__ == "__main__":
    main()
