"""The report's stylesheet, script and icon, served by metrics itself under a versioned path
(kolot.common.assets: kept for a year under the current version, not kept under an older one)."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from kolot.common.assets import Bundle, media_type

NAMES = ("report.css", "report.js", "icon.svg")


@cache
def assets() -> Bundle:
    return Bundle.load("kolot.metrics", NAMES, prefix="/static", owner="the page")


router = APIRouter(tags=["report page"], include_in_schema=False)


@router.get("/favicon.ico")
async def favicon() -> Response:
    # Browsers ask for it whatever the page says (Chromium does while a page swaps its head): a
    # 404 there would be an error in every analyst's console.
    return Response(
        assets().files["icon.svg"],
        media_type=media_type("icon.svg"),
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/static/{version}/{name}")
async def static_file(
    version: Annotated[str, Path(max_length=64)], name: Annotated[str, Path(max_length=64)]
) -> Response:
    return assets().response(version, name)
