"""Run the gateway: `python -m services.gateway`."""

from services.gateway.bootstrap import build_app
from services.gateway.settings import GatewaySettings
from shared.service import serve


def main() -> None:
    """Start the gateway with settings from the environment."""
    settings = GatewaySettings()
    serve(build_app(settings), settings.host, settings.port, settings.log_level, settings.forwarded_allow_ips)


if __name__ == "__main__":
    main()
