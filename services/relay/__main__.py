"""Run the outbox relay: `python -m services.relay`."""

from services.relay.bootstrap import build_app
from services.relay.settings import RelaySettings
from shared.service import serve


def main() -> None:
    """Start the relay with settings from the environment."""
    settings = RelaySettings()
    serve(build_app(settings), settings.host, settings.port, settings.log_level)


if __name__ == "__main__":
    main()
