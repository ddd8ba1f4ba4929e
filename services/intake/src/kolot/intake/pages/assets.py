"""The participation page's stylesheet and script: package data, loaded once, served with the
SHA-256 of their content in the URL (so they can be cached for a year) and pre-compressed."""

from __future__ import annotations

from typing import Final

from kolot.common.assets import StaticFile

STATIC: Final = StaticFile.load("kolot.intake.pages")


def static_url(name: str) -> str:
    # the content's hash in the URL: a file can be cached for a year, a new release is refetched
    return f"/c/_static/{name}?v={STATIC[name].version}"
