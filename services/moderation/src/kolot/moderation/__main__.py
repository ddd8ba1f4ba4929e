"""``kolot-moderation``: serve the moderation service (HTTP on port 8002 and its bus consumers)."""

from __future__ import annotations

from kolot.common.settings import load_settings
from kolot.common.telemetry import configure_logging
from kolot.common.web import run
from kolot.moderation.app import create_app
from kolot.moderation.settings import ModerationSettings


def main() -> None:
    settings = load_settings(ModerationSettings)
    configure_logging(settings)
    app = create_app(settings)
    run(app, app.state.runtime)


if __name__ == "__main__":
    main()
