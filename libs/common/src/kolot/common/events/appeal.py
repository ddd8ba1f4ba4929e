"""Appeals: the author of a comment contests a moderation decision."""

from __future__ import annotations

from typing import Literal

from kolot.common.events._base import Event, Payload


class AppealFiledData(Payload):
    appeal_id: str
    comment_id: str
    participant_id: str
    text: str


class AppealFiled(Event):
    """Intake, when the author of a comment contests its moderation."""

    type: Literal["kolot.appeal.filed"] = "kolot.appeal.filed"
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: AppealFiledData


class AppealDecidedData(Payload):
    appeal_id: str
    comment_id: str
    outcome: Literal["upheld", "overturned"]
    statement: str
    moderator: str | None = None
    participant_id: str | None = None
    """The author who appealed (to notify them)."""


class AppealDecided(Event):
    """Moderation, when a person decides an appeal (``overturned`` republishes the comment)."""

    type: Literal["kolot.appeal.decided"] = "kolot.appeal.decided"
    source: str = "kolot/moderation"
    dataschemaversion: Literal[1] = 1
    data: AppealDecidedData
