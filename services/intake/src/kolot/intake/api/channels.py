"""The SMS/WhatsApp webhook: authenticated by the provider's HMAC signature, not by a token."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import ValidationError

from kolot.common.problems import Problem
from kolot.intake.channels import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ChannelGateway,
    InboundChannel,
    InboundMessage,
    InboundReply,
    signature_refusal,
)

router = APIRouter(prefix="/v1", tags=["channels"])


def _gateway(request: Request) -> ChannelGateway:
    gateway: ChannelGateway = request.app.state.channels
    return gateway


@router.post(
    "/channels/{channel}/inbound",
    summary="An inbound SMS or WhatsApp message, posted and signed by the provider",
    description=(
        "Signed with HMAC-SHA256 over `<timestamp>.<raw body>` with the channel secret: "
        f"`{TIMESTAMP_HEADER}: <unix seconds>`, `{SIGNATURE_HEADER}: v1=<hex>` (docs/channels.md). "
        "Requests more than 5 minutes old are refused. The message is routed by the short code "
        "written to, or by its first word (a consultation's keyword), and stored as a comment of "
        "a pseudonymous participant derived from the sender's number, which is kept nowhere. "
        "Every outcome the sender should hear about (unknown keyword, closed consultation, too "
        "long) is a 200 with the `reply` to send back; a retry with the same `message_id` is "
        "stored once and answered alike."
    ),
    responses={401: {"description": "missing, wrong or stale signature"}},
)
async def inbound(
    channel: InboundChannel,
    request: Request,
    timestamp: Annotated[str | None, Header(alias=TIMESTAMP_HEADER)] = None,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> InboundReply:
    gateway = _gateway(request)
    body = await request.body()
    refusal = signature_refusal(gateway.channel_secret, timestamp, signature, body, now=time.time())
    if refusal:
        raise Problem(401, "bad-signature", "Invalid signature", refusal)
    try:
        message = InboundMessage.model_validate_json(body)
    except ValidationError as exc:
        raise Problem(
            422,
            "validation",
            "Invalid request",
            "The message does not match the expected shape; see errors.",
            # the sender's number may be in the input: report where and what, never the value
            errors=[
                {
                    "location": ["body", *map(str, err.get("loc", ()))],
                    "message": err.get("msg", ""),
                    "type": err.get("type", ""),
                }
                for err in exc.errors(include_input=False)
            ],
        ) from exc
    return await gateway.receive(channel, message)
