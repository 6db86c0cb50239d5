"""Run the notification service: `python -m services.notification`."""

from services.notification.bootstrap import build_app
from services.notification.settings import NotificationSettings
from shared.service import serve


def main() -> None:
    """Start the notification service with settings from the environment."""
    settings = NotificationSettings()
    serve(build_app(settings), settings.host, settings.port, settings.log_level)


if __name__ == "__main__":
    main()
