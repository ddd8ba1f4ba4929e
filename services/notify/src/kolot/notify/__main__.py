"""``kolot-notify``: serve the notify service (HTTP on port 8003 by default, and its consumers)."""

from __future__ import annotations

from kolot.common.settings import load_settings
from kolot.common.telemetry import configure_logging
from kolot.common.web import run
from kolot.notify.app import create_app
from kolot.notify.settings import NotifySettings


def main() -> None:
    settings = load_settings(NotifySettings)
    configure_logging(settings)
    app = create_app(settings)
    run(app, app.state.runtime)


if __name__ == "__main__":
    main()
