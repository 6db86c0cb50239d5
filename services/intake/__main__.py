"""Run the intake service: `python -m services.intake`."""

from services.intake.bootstrap import build_app
from services.intake.settings import IntakeSettings
from shared.service import serve


def main() -> None:
    """Start intake with settings from the environment."""
    settings = IntakeSettings()
    serve(build_app(settings), settings.host, settings.port, settings.log_level)


if __name__ == "__main__":
    main()
