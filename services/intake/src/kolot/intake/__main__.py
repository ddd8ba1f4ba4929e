"""kolot-intake: serve intake's HTTP API on uvloop + httptools."""

from __future__ import annotations

from kolot.common.settings import load_settings
from kolot.common.telemetry import configure_logging
from kolot.common.web import run
from kolot.intake.app import create_app
from kolot.intake.settings import IntakeSettings


def main() -> None:
    settings = load_settings(IntakeSettings)
    configure_logging(settings)
    app = create_app(settings)
    run(app, app.state.runtime)


if __name__ == "__main__":
    main()
