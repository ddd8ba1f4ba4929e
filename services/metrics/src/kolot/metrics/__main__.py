"""``kolot-metrics``: run the metrics service (settings from the environment)."""

from __future__ import annotations

from kolot.common.settings import load_settings
from kolot.common.telemetry import configure_logging
from kolot.common.web import run
from kolot.metrics.app import create_app
from kolot.metrics.settings import MetricsSettings


def main() -> None:
    settings = load_settings(MetricsSettings)
    configure_logging(settings)
    app = create_app(settings)
    run(app, app.state.runtime)


if __name__ == "__main__":
    main()
