"""Campaign policies from the events stream.

Every replica keeps every campaign's policy in memory (``follow_campaigns``: an ephemeral ordered
consumer replays the campaign events, which are few, and follows new ones), so a batch of comments
never reads policies from the store. Moderation reads campaign events and comments with two
consumers, so a comment can still be handled before the event that created its campaign: for a
campaign missing from memory and store, moderation asks JetStream for the last ``campaign.*``
message with that campaign's subject token (``StreamCampaignLog``).
"""

from __future__ import annotations

import asyncio

from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from kolot.common.bus import jetstream
from kolot.common.events import UndecodableEvent, parse_event
from kolot.common.runtime import Runtime
from kolot.moderation.models import CampaignPolicy
from kolot.moderation.service import CAMPAIGN_EVENTS, ModerationService, policy_from_event

_NOT_IN_A_TOKEN = frozenset(" .*>\t\r\n")


class StreamCampaignLog:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def latest(self, campaign_id: str) -> CampaignPolicy | None:
        if not campaign_id or _NOT_IN_A_TOKEN.intersection(campaign_id):
            return None
        streams = self._runtime.streams
        try:
            message = await jetstream(self._runtime.broker).get_last_msg(
                streams.name("events"), streams.events_subject("campaign", "*", campaign_id)
            )
        except NotFoundError:
            return None
        if message.data is None:
            return None
        try:
            event = parse_event(message.data)
        except UndecodableEvent:
            return None
        return policy_from_event(event) if isinstance(event, CAMPAIGN_EVENTS) else None


async def follow_campaigns(runtime: Runtime, service: ModerationService) -> None:
    """Replay and follow the campaign events into ``service``'s policies, until cancelled."""

    async def on_campaign_message(msg: Msg) -> None:
        try:
            event = parse_event(msg.data)
        except UndecodableEvent:
            return
        if isinstance(event, CAMPAIGN_EVENTS):
            service.remember_policies([policy_from_event(event)])

    subscription = await jetstream(runtime.broker).subscribe(
        runtime.streams.events_subject("campaign", "*"),
        cb=on_campaign_message,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.ALL,
        idle_heartbeat=5.0,
    )
    try:
        task = asyncio.current_task()
        # a stop that came while subscribing can be swallowed inside nats-py: honour it
        if task is None or not task.cancelling():
            await asyncio.Event().wait()
    finally:
        await subscription.unsubscribe()
