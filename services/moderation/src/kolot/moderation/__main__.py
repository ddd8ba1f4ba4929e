"""``kolot-moderation``: serve the moderation service (HTTP on port 8002 and its bus consumers)."""

from __future__ import annotations

from kolot.common.web import serve
from kolot.moderation.app import create_app
from kolot.moderation.settings import ModerationSettings


def main() -> None:
    serve(ModerationSettings, create_app)


if __name__ == "__main__":
    main()
