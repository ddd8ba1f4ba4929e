"""HTTP routes of the metrics service (analysts and admins)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from kolot.common.auth import AuthError, Role, Staff
from kolot.common.problems import Problem
from kolot.common.web import BearerDep, RuntimeDep, require_staff
from kolot.metrics.report import render_html, render_login
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

# The pages load nothing but the service's own stylesheet and script (and fetch the report from
# the same origin): forbid everything else, so even a text that escaped escaping could not run or
# fetch anything. The sign-in form posts only to the service itself.
HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # figures for staff only: no shared cache may keep them; the page depends on who asks
    "Cache-Control": "private, no-store",
    "Vary": "Accept, Authorization",
}
ANALYST = require_staff(Role.ANALYST)
MAX_TOKEN_FORM = 16 * 1024

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
    summary="What we heard: totals, funnel, participation over time, channels and circles, "
    "representativeness, moderation transparency, outcome",
    description=(
        "JSON by default; an HTML page with charts (inline SVG) with `format=html` "
        "or `Accept: text/html`. The language is `lang`, else the campaign's default language; "
        "Hebrew and Arabic pages are right-to-left. A browser that asks for the page without a "
        "token (`Accept` prefers `text/html`, no `Authorization`) gets a sign-in page instead, "
        "whose script keeps the analyst's token in the tab and fetches the report with it."
        + UNKNOWN_CAMPAIGN
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
    runtime: RuntimeDep,
    credentials: BearerDep,
    format: Annotated[Literal["json", "html"] | None, Query()] = None,
    lang: Annotated[Literal["he", "ar", "en"] | None, Query()] = None,
) -> Response:
    accept = request.headers.get("accept", "")
    if credentials is None and _prefers_html(accept):
        # A person in a browser, who cannot send a header: the page to give a token from.
        language = lang or _browser_language(request.headers.get("accept-language", ""))
        return HTMLResponse(
            render_login(campaign_id=campaign_id, language=language), headers=HTML_HEADERS
        )
    await ANALYST(runtime, credentials)
    if format is None:
        format = "html" if _prefers_html(accept) else "json"
    # the store is read only once the token is known good
    report = await get_service(runtime).report(campaign_id, language=lang)
    if format == "html":
        return HTMLResponse(render_html(report), headers=HTML_HEADERS)
    return JSONResponse(report.model_dump(mode="json"))


@router.post(
    "/campaigns/{campaign_id}/report",
    summary="The report page for a token posted from the sign-in form (browsers without script)",
    include_in_schema=False,
)
async def campaign_report_form(
    request: Request,
    campaign_id: CampaignIdPath,
    runtime: RuntimeDep,
    lang: Annotated[Literal["he", "ar", "en"] | None, Query()] = None,
) -> Response:
    language = lang or _browser_language(request.headers.get("accept-language", ""))
    body = await request.body()
    fields = parse_qs(body[:MAX_TOKEN_FORM].decode("utf-8", "replace"), max_num_fields=4)
    token = (fields.get("token") or [""])[0].strip().removeprefix("Bearer ").strip()
    try:
        if not token:
            raise AuthError("no token given")
        await ANALYST(runtime, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token))
    except AuthError as refused:
        message = "empty" if not token else str(refused.status)
        return HTMLResponse(
            render_login(campaign_id=campaign_id, language=language, message=message),
            status_code=refused.status if token else 422,
            headers=HTML_HEADERS,
        )
    # the store is read only once the token is known good
    report = await get_service(runtime).report(campaign_id, language=lang)
    return HTMLResponse(render_html(report), headers=HTML_HEADERS)


def _browser_language(accept_language: str) -> str:
    """The first of Kolot's languages the browser lists (Hebrew when it lists none)."""
    for part in accept_language.split(","):
        primary = part.split(";")[0].strip().lower()[:2]
        if primary in ("he", "ar", "en"):
            return primary
    return "he"


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
