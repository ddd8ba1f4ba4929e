"""Notify's HTTP routes: webhook subscriptions and their delivery log (role integrator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from kolot.common.auth import Role, Staff
from kolot.common.problems import Problem
from kolot.common.web import require_staff
from kolot.notify.models import DeliveryStatus
from kolot.notify.schemas import (
    DeliveryLog,
    DeliveryPublic,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionList,
    SubscriptionPublic,
)
from kolot.notify.service import SubscriptionNotFound, SubscriptionService
from kolot.notify.targets import TargetRefused


def get_subscriptions(request: Request) -> SubscriptionService:
    service: SubscriptionService = request.app.state.subscriptions
    return service


SubscriptionsDep = Annotated[SubscriptionService, Depends(get_subscriptions)]
Integrator = Annotated[Staff, Depends(require_staff(Role.INTEGRATOR))]

router = APIRouter(prefix="/v1/subscriptions", tags=["webhooks"])


def _owner(staff: Staff) -> str | None:
    # integrators manage their own subscriptions; admins see every one
    return None if Role.ADMIN in staff.roles else staff.subject


def _not_found(subscription_id: str) -> Problem:
    return Problem(
        404, "subscription-not-found", "No such subscription", f"no subscription {subscription_id}"
    )


@router.post(
    "",
    status_code=201,
    summary="Subscribe a webhook endpoint to public events",
    responses={422: {"description": "invalid body, or a target webhooks may not call"}},
)
async def create_subscription(
    body: SubscriptionCreate, staff: Integrator, service: SubscriptionsDep
) -> SubscriptionCreated:
    try:
        subscription = await service.create(
            owner=staff.subject,
            url=body.url,
            event_types=body.event_types,
            campaign_id=body.campaign_id,
            description=body.description,
        )
    except TargetRefused as exc:
        raise Problem(422, "webhook-target-refused", "Webhook target refused", str(exc)) from exc
    return SubscriptionCreated.of(subscription)


@router.get("", summary="The webhook subscriptions (without their secrets)")
async def list_subscriptions(staff: Integrator, service: SubscriptionsDep) -> SubscriptionList:
    subscriptions = await service.visible_to(_owner(staff))
    return SubscriptionList(items=[SubscriptionPublic.of(s) for s in subscriptions])


@router.get("/{subscription_id}/deliveries", summary="The delivery log of a subscription")
async def list_deliveries(
    subscription_id: str,
    staff: Integrator,
    service: SubscriptionsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    status: DeliveryStatus | None = None,
) -> DeliveryLog:
    try:
        deliveries = await service.deliveries(
            subscription_id, owner=_owner(staff), limit=limit, status=status
        )
    except SubscriptionNotFound as exc:
        raise _not_found(subscription_id) from exc
    return DeliveryLog(items=[DeliveryPublic.of(d) for d in deliveries])


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="Unsubscribe: pending deliveries are cancelled",
)
async def delete_subscription(
    subscription_id: str, staff: Integrator, service: SubscriptionsDep
) -> Response:
    try:
        await service.delete(subscription_id, owner=_owner(staff))
    except SubscriptionNotFound as exc:
        raise _not_found(subscription_id) from exc
    return Response(status_code=204)
