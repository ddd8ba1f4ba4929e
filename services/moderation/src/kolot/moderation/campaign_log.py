"""A campaign's latest policy read straight from the events stream.

Moderation reads campaign events and comments with two consumers, so a comment can be handled
before the event that created its campaign. For a campaign missing from its store, moderation
asks JetStream for the last ``campaign.*`` message with that campaign's subject token.
"""

from __future__ import annotations

from nats.js.errors import NotFoundError

from kolot.common.bus import jetstream
from kolot.common.events import UndecodableEvent, parse_event
from kolot.common.runtime import Runtime
from kolot.moderation.models import CampaignPolicy
from kolot.moderation.service import CAMPAIGN_EVENTS, policy_from_event

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
