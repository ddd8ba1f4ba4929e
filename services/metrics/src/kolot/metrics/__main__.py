"""``kolot-metrics``: run the metrics service (settings from the environment)."""

from __future__ import annotations

from kolot.common.web import serve
from kolot.metrics.app import create_app
from kolot.metrics.settings import MetricsSettings


def main() -> None:
    serve(MetricsSettings, create_app)


if __name__ == "__main__":
    main()
