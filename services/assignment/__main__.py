"""Run the assignment service: `python -m services.assignment`."""

from services.assignment.bootstrap import build_app
from services.assignment.settings import AssignmentSettings
from shared.service import serve


def main() -> None:
    """Start the assignment service with settings from the environment."""
    settings = AssignmentSettings()
    serve(build_app(settings), settings.host, settings.port, settings.log_level)


if __name__ == "__main__":
    main()
