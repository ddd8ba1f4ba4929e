"""``kolot-notify``: serve the notify service (HTTP on port 8003 by default, and its consumers)."""

from __future__ import annotations

from kolot.common.web import serve
from kolot.notify.app import create_app
from kolot.notify.settings import NotifySettings


def main() -> None:
    serve(NotifySettings, create_app)


if __name__ == "__main__":
    main()
