"""Notify's HTTP routes: webhook subscriptions and their delivery log (role integrator)."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from nats.js.errors import APIError
from pydantic import TypeAdapter, ValidationError

from kolot.common.auth import Role, Staff
from kolot.common.events import Spend
from kolot.common.problems import Problem, problem_response
from kolot.common.web import require_staff
from kolot.notify.delivery import Sender
from kolot.notify.disseminations import (
    INVITING_CHANNELS,
    MAX_ROWS,
    DisseminationNotFound,
    DisseminationService,
    LinkNotFound,
    RecipientList,
    RecipientListError,
    parse_csv,
    recipient_from,
)
from kolot.notify.models import DeliveryStatus
from kolot.notify.repository import ContactRepository
from kolot.notify.schemas import (
    DeliveryLog,
    DeliveryPublic,
    DisseminationChange,
    DisseminationCreate,
    DisseminationList,
    DisseminationPublic,
    Preferences,
    PreferencesPublic,
    RecipientIn,
    ReplayRequest,
    ReplayResult,
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionList,
    SubscriptionPublic,
    TestResult,
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


async def on_subscription_not_found(request: Request, exc: Exception) -> JSONResponse:
    """An unknown subscription, or another integrator's (the two look the same), as a 404
    problem: registered on notify's app, so the routes need not catch it one by one."""
    assert isinstance(exc, SubscriptionNotFound)
    return problem_response(
        request,
        404,
        "subscription-not-found",
        "No such subscription",
        f"no subscription {exc.args[0]}",
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
        created = await service.create(
            owner=staff.subject,
            url=body.url,
            event_types=body.event_types,
            campaign_id=body.campaign_id,
            description=body.description,
        )
    except TargetRefused as exc:
        raise Problem(422, "webhook-target-refused", "Webhook target refused", str(exc)) from exc
    return SubscriptionCreated.of_new(created.subscription, secret=created.secret)


@router.get("", summary="The webhook subscriptions (without their secrets)")
async def list_subscriptions(staff: Integrator, service: SubscriptionsDep) -> SubscriptionList:
    subscriptions = await service.visible_to(_owner(staff))
    return SubscriptionList(items=[SubscriptionPublic.of(s) for s in subscriptions])


def _cursor(delivery: DeliveryPublic) -> str:
    raw = f"{delivery.created_at.isoformat()}|{delivery.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, delivery_id = raw.split("|", 1)
        at = datetime.fromisoformat(created_at)
        if at.tzinfo is None or not delivery_id:
            raise ValueError("incomplete cursor")
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(
            422, "invalid-cursor", "Invalid cursor", "pass a next_cursor as it was given"
        ) from exc
    return at, delivery_id


@router.get(
    "/{subscription_id}/deliveries",
    summary="The delivery log of a subscription (attempts, status, latency, error), newest first",
)
async def list_deliveries(
    subscription_id: str,
    staff: Integrator,
    service: SubscriptionsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    status: DeliveryStatus | None = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> DeliveryLog:
    before = None if cursor is None else _parse_cursor(cursor)
    deliveries = await service.deliveries(
        subscription_id, owner=_owner(staff), limit=limit, status=status, before=before
    )
    items = [DeliveryPublic.of(d) for d in deliveries]
    return DeliveryLog(items=items, next_cursor=_cursor(items[-1]) if len(items) == limit else None)


@router.get("/{subscription_id}", summary="One subscription (without its secret)")
async def get_subscription(
    subscription_id: str, staff: Integrator, service: SubscriptionsDep
) -> SubscriptionPublic:
    return SubscriptionPublic.of(await service.get(subscription_id, owner=_owner(staff)))


@router.post(
    "/{subscription_id}/rotate-secret",
    summary="A new signing secret; the old one keeps signing beside it for the overlap period",
)
async def rotate_secret(
    subscription_id: str, staff: Integrator, service: SubscriptionsDep
) -> SecretRotated:
    rotated = await service.rotate_secret(subscription_id, owner=_owner(staff))
    return SecretRotated(
        secret=rotated.secret, previous_secret_until=rotated.subscription.previous_secret_until
    )


@router.post("/{subscription_id}/pause", summary="Pause: deliveries are recorded and wait")
async def pause_subscription(
    subscription_id: str, staff: Integrator, service: SubscriptionsDep
) -> SubscriptionPublic:
    return SubscriptionPublic.of(await service.pause(subscription_id, owner=_owner(staff)))


@router.post(
    "/{subscription_id}/resume",
    summary="Resume a paused or automatically disabled subscription: what waited is sent",
)
async def resume_subscription(
    subscription_id: str, staff: Integrator, service: SubscriptionsDep
) -> SubscriptionPublic:
    return SubscriptionPublic.of(await service.resume(subscription_id, owner=_owner(staff)))


@router.post(
    "/{subscription_id}/test",
    summary="Send a signed kolot.webhook.test event now and report the endpoint's answer",
)
async def test_subscription(
    subscription_id: str, request: Request, staff: Integrator, service: SubscriptionsDep
) -> TestResult:
    send: Sender | None = getattr(request.app.state, "webhook_sender", None)
    if send is None:
        raise Problem(
            503,
            "not-ready",
            "Not ready",
            "webhook delivery is starting",
            headers={"Retry-After": "1"},
        )
    result = await service.test(subscription_id, owner=_owner(staff), send=send)
    return TestResult(
        delivered=result.ok,
        status_code=result.status_code,
        error=result.error,
        duration_ms=round(result.duration_ms, 3),
    )


@router.post(
    "/{subscription_id}/replay",
    status_code=202,
    summary="Deliver again the public events from a stream sequence or a time (a page at a time)",
    description=(
        "Reads KOLOT_PUBLIC from `from_sequence` or `since` (up to `until`), at most `limit` "
        "events, and queues a delivery of each one the subscription wants (its filters apply), "
        "also those delivered before: they carry the same `webhook-id`, so a receiver that keeps "
        "ids can tell. With `more`, continue from `last_sequence + 1`."
    ),
)
async def replay(
    subscription_id: str,
    body: ReplayRequest,
    request: Request,
    staff: Integrator,
    service: SubscriptionsDep,
) -> ReplayResult:
    read = request.app.state.read_public
    try:
        replay_id, page, recorded = await service.replay(
            subscription_id,
            owner=_owner(staff),
            read=read,
            from_sequence=body.from_sequence,
            since=body.since,
            until=body.until,
            limit=body.limit,
        )
    except APIError as exc:
        # the server refused the read (e.g. a start it cannot serve): the request's fault
        raise Problem(
            422, "replay-refused", "The stream cannot be read from there", str(exc)[:500]
        ) from exc
    return ReplayResult(
        replay_id=replay_id,
        scanned=page.scanned,
        deliveries=recorded,
        last_sequence=page.last_sequence,
        more=page.more,
    )


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="Unsubscribe: pending deliveries are cancelled",
)
async def delete_subscription(
    subscription_id: str, staff: Integrator, service: SubscriptionsDep
) -> Response:
    await service.delete(subscription_id, owner=_owner(staff))
    return Response(status_code=204)


# --- disseminations (admin) -------------------------------------------------------------------


def get_disseminations(request: Request) -> DisseminationService:
    service: DisseminationService = request.app.state.disseminations
    return service


def get_contacts(request: Request) -> ContactRepository:
    contacts: ContactRepository = request.app.state.contacts
    return contacts


DisseminationsDep = Annotated[DisseminationService, Depends(get_disseminations)]
ContactsDep = Annotated[ContactRepository, Depends(get_contacts)]
Admin = Annotated[Staff, Depends(require_staff(Role.ADMIN))]
MAX_LIST_BYTES = 20 * 1024 * 1024

disseminations_router = APIRouter(prefix="/v1/disseminations", tags=["disseminations"])


def _dissemination_not_found(dissemination_id: str) -> Problem:
    return Problem(
        404,
        "dissemination-not-found",
        "No such dissemination",
        f"no dissemination {dissemination_id}",
    )


def _recipient_list(items: list[RecipientIn], channel: str) -> RecipientList:
    result = RecipientList()
    for number, recipient in enumerate(items, start=1):
        values = {
            "consent": "yes" if recipient.consent else "no",
            "email": recipient.email or "",
            "phone": recipient.phone or "",
            "language": recipient.language or "",
            "circle_invitation": recipient.circle_invitation or "",
        }
        recipient_from(number, values, channel=channel, into=result)
    return result


def _needs_inviting_channel(channel: str) -> None:
    if channel not in INVITING_CHANNELS:
        raise Problem(
            422,
            "channel-sends-no-invitations",
            "This channel sends no invitations",
            f"recipients are for the channels {sorted(INVITING_CHANNELS)}, not {channel!r}",
        )


@disseminations_router.post(
    "",
    status_code=201,
    summary="Register a dissemination (source, channel, spend), optionally with recipients",
    description=(
        "Announced on the bus as `kolot.dissemination.registered`, so the funnel is priced per "
        "source. With `recipients` (channels `email` and `sms`), a personal invitation with a "
        "tracked link is sent to each one who consented; the others are refused and counted."
    ),
)
async def create_dissemination(
    body: DisseminationCreate, staff: Admin, service: DisseminationsDep
) -> DisseminationPublic:
    recipients = None
    if body.recipients is not None:
        _needs_inviting_channel(body.channel)
        recipients = _recipient_list(body.recipients, body.channel)
    dissemination = await service.register(
        campaign_id=body.campaign_id,
        source=body.source,
        channel=body.channel,
        spend=None
        if body.spend is None
        else Spend(amount=body.spend.amount, currency=body.spend.currency),
        language=body.language,
        created_by=staff.subject,
        recipients=recipients,
    )
    return DisseminationPublic.of(
        dissemination, errors=None if recipients is None else recipients.errors
    )


@disseminations_router.get("", summary="Disseminations, newest first")
async def list_disseminations(
    _: Admin,
    service: DisseminationsDep,
    campaign_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DisseminationList:
    found = await service.recent(campaign_id, limit=limit)
    return DisseminationList(items=[DisseminationPublic.of(d) for d in found])


@disseminations_router.get(
    "/{dissemination_id}", summary="A dissemination and its invitations' progress by status"
)
async def get_dissemination(
    dissemination_id: str, _: Admin, service: DisseminationsDep
) -> DisseminationPublic:
    try:
        dissemination = await service.get(dissemination_id)
        progress = await service.progress(dissemination_id)
    except DisseminationNotFound as exc:
        raise _dissemination_not_found(dissemination_id) from exc
    return DisseminationPublic.of(dissemination, progress=progress)


@disseminations_router.patch(
    "/{dissemination_id}",
    summary="Change a dissemination's spend (announced again for the funnel's price)",
)
async def change_dissemination(
    dissemination_id: str, body: DisseminationChange, _: Admin, service: DisseminationsDep
) -> DisseminationPublic:
    try:
        updated = await service.change_spend(
            dissemination_id, Spend(amount=body.spend.amount, currency=body.spend.currency)
        )
    except DisseminationNotFound as exc:
        raise _dissemination_not_found(dissemination_id) from exc
    return DisseminationPublic.of(updated)


@disseminations_router.post(
    "/{dissemination_id}/recipients",
    status_code=202,
    summary="Invite a list of contacts (CSV, or a JSON array of recipients)",
    description=(
        "`text/csv` (UTF-8, header row): a `consent` column (yes/true/1/כן/نعم) and `email` (or "
        "`phone` for SMS), optionally `language` (he, ar, en) and `circle_invitation` (a token "
        "from intake's circle invitations, handed on by the tracked link); other columns are "
        f"ignored and never stored. At most {MAX_ROWS} rows. Rows without consent or a valid "
        "address are refused and reported; an address already invited by this dissemination, "
        "or that unsubscribed, is not invited again. Contacts are sealed (encrypted) at rest. "
        "Answers 202: the invitations go out at the provider's rate; follow the progress with "
        "GET."
    ),
    responses={
        415: {"description": "neither text/csv nor application/json"},
        422: {"description": "the list cannot be read, or the channel sends no invitations"},
    },
)
async def add_recipients(
    dissemination_id: str, request: Request, _: Admin, service: DisseminationsDep
) -> DisseminationPublic:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in {"text/csv", "application/csv", "application/vnd.ms-excel",
                          "application/json"}:  # fmt: skip
        raise Problem(
            415, "unsupported-media-type", "Send CSV or JSON", "the body must be text/csv or JSON"
        )
    try:
        dissemination = await service.get(dissemination_id)
    except DisseminationNotFound as exc:
        raise _dissemination_not_found(dissemination_id) from exc
    _needs_inviting_channel(dissemination.channel)
    body = await request.body()
    try:
        if media_type == "application/json":
            items = TypeAdapter(list[RecipientIn]).validate_json(body or b"null")
            if len(items) > MAX_ROWS:
                raise RecipientListError(f"at most {MAX_ROWS} recipients per upload")
            recipients = _recipient_list(items, dissemination.channel)
        else:
            recipients = parse_csv(body, channel=dissemination.channel)
    except (RecipientListError, ValidationError) as exc:
        raise Problem(422, "unreadable-list", "The list cannot be read", str(exc)[:1000]) from exc
    updated = await service.add_recipients(dissemination_id, recipients)
    return DisseminationPublic.of(updated, errors=recipients.errors)


# --- links, unsubscribe and preferences (anyone holding the link) -----------------------------

links_router = APIRouter(tags=["links"])


def _unknown_link() -> Problem:
    return Problem(404, "link-not-found", "No such link", "the link is unknown or was erased")


@links_router.get(
    "/r/{token}",
    status_code=302,
    summary="Follow a tracked invitation link: 302 to the consultation",
    response_class=RedirectResponse,
    responses={302: {"description": "to the consultation's public page"}},
)
async def follow_link(
    token: Annotated[str, Path(max_length=64)], service: DisseminationsDep
) -> RedirectResponse:
    try:
        target = await service.click(token)
    except LinkNotFound as exc:
        raise _unknown_link() from exc
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})


@links_router.post(
    "/v1/unsubscribe/{token}",
    summary="One-click unsubscribe (RFC 8058): the link in every message's List-Unsubscribe",
)
async def unsubscribe(
    token: Annotated[str, Path(max_length=64)], service: DisseminationsDep
) -> dict[str, bool]:
    if not await service.unsubscribe(token):
        raise _unknown_link()
    return {"unsubscribed": True}


@links_router.get(
    "/v1/unsubscribe/{token}",
    summary="The unsubscribe page (a GET never unsubscribes: mail scanners follow links)",
    response_class=HTMLResponse,
)
async def unsubscribe_page(token: Annotated[str, Path(max_length=64)]) -> HTMLResponse:
    action = html.escape(f"/v1/unsubscribe/{token}", quote=True)
    return HTMLResponse(
        '<!DOCTYPE html>\n<html lang="he" dir="rtl"><head><meta charset="utf-8">'
        "<title>הסרה · إلغاء الاشتراك · Unsubscribe</title></head><body>"
        f'<form method="post" action="{action}">'
        '<button type="submit">הסרה · إلغاء الاشتراك · Unsubscribe</button></form>'
        "</body></html>"
    )


@links_router.get("/v1/preferences/{token}", summary="A participant's notification preferences")
async def get_preferences(
    token: Annotated[str, Path(max_length=64)], contacts: ContactsDep
) -> PreferencesPublic:
    contact = await contacts.by_token(token)
    if contact is None:
        raise _unknown_link()
    return PreferencesPublic(
        frequency=contact.frequency, unsubscribed=contact.unsubscribed, language=contact.language
    )


@links_router.put(
    "/v1/preferences/{token}",
    summary="Change one's preferences: immediate or a daily digest, (un)subscribed",
)
async def put_preferences(
    token: Annotated[str, Path(max_length=64)], body: Preferences, contacts: ContactsDep
) -> PreferencesPublic:
    if not await contacts.update_preferences(
        token, frequency=body.frequency, unsubscribed=body.unsubscribed
    ):
        raise _unknown_link()
    return await get_preferences(token, contacts)
