"""Run the case query service: `python -m services.casequery`."""

from services.casequery.bootstrap import build_app
from services.casequery.settings import CaseQuerySettings
from shared.service import serve


def main() -> None:
    """Start the case query service with settings from the environment."""
    settings = CaseQuerySettings()
    serve(build_app(settings), settings.host, settings.port, settings.log_level)


if __name__ == "__main__":
    main()
