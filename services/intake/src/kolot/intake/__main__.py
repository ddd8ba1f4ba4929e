"""kolot-intake: serve intake's HTTP API on uvloop + httptools."""

from __future__ import annotations

from kolot.common.web import serve
from kolot.intake.app import create_app
from kolot.intake.settings import IntakeSettings


def main() -> None:
    serve(IntakeSettings, create_app)


if __name__ == "__main__":
    main()
