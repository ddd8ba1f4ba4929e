"""HTTP routes of the metrics service (analysts and admins)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from kolot.common.auth import Role, Staff
from kolot.common.problems import Problem
from kolot.common.web import RuntimeDep, require_staff
from kolot.metrics.report import render_html
from kolot.metrics.repository import MetricsRepository
from kolot.metrics.schemas import CampaignStats, Funnel, Report, Timeseries
from kolot.metrics.service import MetricsService
from kolot.metrics.stats import TooManyPoints

router = APIRouter(prefix="/v1", tags=["stats"])

AnalystDep = Annotated[Staff, Depends(require_staff(Role.ANALYST))]
# the same bounds as an event's subject, which is where campaign ids come from
CampaignIdPath = Annotated[str, Path(min_length=1, max_length=64)]

STEP_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
STEP_PATTERN = r"^[1-9][0-9]{0,3}[mhdw]$"
MAX_POINTS = 2000

# The page needs nothing but its own inline styles and SVG: forbid everything else, so even a
# text that escaped escaping could not run or fetch anything.
HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}

UNKNOWN_CAMPAIGN = (
    " Metrics learns of a campaign only through its events, so it cannot tell an unknown "
    "campaign from one without events yet: both answer 200 with zeros."
)
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or invalid token"},
    403: {"description": "not analyst"},
}


def get_service(runtime: RuntimeDep) -> MetricsService:
    return MetricsService(MetricsRepository(runtime.db))


ServiceDep = Annotated[MetricsService, Depends(get_service)]


def step_seconds(step: str) -> int:
    seconds = int(step[:-1]) * STEP_UNITS[step[-1]]
    if seconds % 3600:
        raise Problem(
            422,
            "invalid-step",
            "The step must be a whole number of hours",
            f"{step!r} is not: figures are kept per hour (use 1h, 6h, 1d, 1w...)",
        )
    return seconds


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get(
    "/campaigns/{campaign_id}/stats",
    summary="A campaign's figures: comments, moderation, participation, funnel, reach",
    description="Built from the event stream, a few moments behind it." + UNKNOWN_CAMPAIGN,
    responses=ERRORS,
)
async def campaign_stats(
    campaign_id: CampaignIdPath, _staff: AnalystDep, service: ServiceDep
) -> CampaignStats:
    return await service.stats(campaign_id)


@router.get(
    "/campaigns/{campaign_id}/funnel",
    summary="Invited -> clicked -> visited -> took part per source, with rates and costs",
    description=(
        "Rates are percentages rounded half up to 2 decimals; costs divide the latest spend of "
        "each source's disseminations by its visits and by its participants (one response per "
        "participant who took part), rounded to the cent." + UNKNOWN_CAMPAIGN
    ),
    responses=ERRORS,
)
async def campaign_funnel(
    campaign_id: CampaignIdPath, _staff: AnalystDep, service: ServiceDep
) -> Funnel:
    return await service.funnel(campaign_id)


@router.get(
    "/campaigns/{campaign_id}/timeseries",
    summary="Visits, comments, participants, responses and votes per time step",
    description=(
        "Steps are aligned on the Unix epoch (UTC); gaps are zeros. `step` is a count and a unit "
        "(`h`, `d`, `w`; minutes only in whole hours), e.g. `1h`, `6h`, `1d`. At most "
        f"{MAX_POINTS} points." + UNKNOWN_CAMPAIGN
    ),
    responses={**ERRORS, 422: {"description": "invalid step or range, or too many points"}},
)
async def campaign_timeseries(
    campaign_id: CampaignIdPath,
    _staff: AnalystDep,
    service: ServiceDep,
    step: Annotated[str, Query(pattern=STEP_PATTERN, description="e.g. 1h, 6h, 1d, 1w")] = "1h",
    since: Annotated[datetime | None, Query(alias="from", description="first step (incl.)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="last step (incl.)")] = None,
) -> Timeseries:
    seconds = step_seconds(step)
    since, until = utc(since), utc(until)
    if since is not None and until is not None:
        if until < since:
            raise Problem(422, "invalid-range", "`to` is before `from`")
        if (until - since).total_seconds() / seconds > MAX_POINTS:
            raise Problem(
                422, "too-many-points", f"More than {MAX_POINTS} points: use a larger step"
            )
    try:
        return await service.timeseries(
            campaign_id, step_seconds=seconds, since=since, until=until, max_points=MAX_POINTS
        )
    except TooManyPoints as exc:
        raise Problem(
            422,
            "too-many-points",
            f"More than {MAX_POINTS} points: use a larger step or a narrower range",
            f"this would be {exc.args[0]} points",
        ) from exc


@router.get(
    "/campaigns/{campaign_id}/report",
    summary="What we heard: totals, top clusters, moderation transparency, reach, outcome",
    description=(
        "JSON by default; an HTML page with charts (inline SVG, no script) with `format=html` "
        "or `Accept: text/html`. The language is `lang`, else the campaign's default language; "
        "Hebrew and Arabic pages are right-to-left." + UNKNOWN_CAMPAIGN
    ),
    responses={
        **ERRORS,
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
    },
    response_model=Report,
)
async def campaign_report(
    request: Request,
    campaign_id: CampaignIdPath,
    _staff: AnalystDep,
    service: ServiceDep,
    format: Annotated[Literal["json", "html"] | None, Query()] = None,
    lang: Annotated[Literal["he", "ar", "en"] | None, Query()] = None,
) -> Response:
    report = await service.report(campaign_id, language=lang)
    if format is None:
        accept = request.headers.get("accept", "")
        format = "html" if _prefers_html(accept) else "json"
    if format == "html":
        return HTMLResponse(render_html(report), headers=HTML_HEADERS)
    return JSONResponse(report.model_dump(mode="json"))


def _prefers_html(accept: str) -> bool:
    """``text/html`` listed with a higher quality than JSON (browsers send it first)."""
    best: dict[str, float] = {}
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        match = re.search(r"q=([0-9.]+)", params)
        try:
            quality = float(match.group(1)) if match else 1.0
        except ValueError:
            quality = 0.0
        best[media.strip().lower()] = max(best.get(media.strip().lower(), 0.0), quality)
    html = best.get("text/html", 0.0)
    return html > 0 and html > max(best.get("application/json", 0.0), best.get("*/*", 0.0) - 0.01)
