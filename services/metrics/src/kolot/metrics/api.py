"""HTTP routes of the metrics service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from kolot.common.auth import Role, Staff
from kolot.common.web import RuntimeDep, require_staff
from kolot.metrics.repository import CountersRepository
from kolot.metrics.schemas import CampaignStatsPublic
from kolot.metrics.service import MetricsService

router = APIRouter(prefix="/v1", tags=["stats"])

AnalystDep = Annotated[Staff, Depends(require_staff(Role.ANALYST))]
# the same bounds as an event's subject, which is where campaign ids come from
CampaignIdPath = Annotated[str, Path(min_length=1, max_length=64)]


def get_service(runtime: RuntimeDep) -> MetricsService:
    return MetricsService(CountersRepository(runtime.db))


ServiceDep = Annotated[MetricsService, Depends(get_service)]


@router.get(
    "/campaigns/{campaign_id}/stats",
    summary="A campaign's comment figures and participation funnel",
    description=(
        "Counts built from the event stream, a few moments behind it. Metrics learns of a "
        "campaign only through its events, so it cannot tell an unknown campaign from one "
        "without events yet: both answer 200 with zeros and `updated_at: null`. "
        "`spend` and `cost_per_response` are null until dissemination spend is measured."
    ),
    responses={401: {"description": "no or invalid token"}, 403: {"description": "not analyst"}},
)
async def campaign_stats(
    campaign_id: CampaignIdPath, _staff: AnalystDep, service: ServiceDep
) -> CampaignStatsPublic:
    return await service.stats(campaign_id)
