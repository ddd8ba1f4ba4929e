"""Early warning: a surge that may grow into a crisis."""

from __future__ import annotations

from typing import Literal

from kolot.common.events._base import Event, Payload


class ModerationAlertData(Payload):
    alert_id: str
    kind: Literal["abuse_surge", "flag_surge", "submission_surge", "form_letter_campaign"]
    severity: Literal["info", "warning", "critical"]
    window_seconds: int
    observed: float
    baseline: float
    message: str
    state: Literal["raised", "cleared"] = "raised"
    """``cleared`` when the surge of an earlier alert (same ``alert_id``) has subsided."""
    campaign_id: str | None = None


class ModerationAlert(Event):
    """Moderation, when abuse, flags or submissions surge beyond their baseline."""

    type: Literal["kolot.moderation.alert"] = "kolot.moderation.alert"
    source: str = "kolot/moderation"
    dataschemaversion: Literal[1] = 1
    data: ModerationAlertData
