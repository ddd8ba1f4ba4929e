"""A realistic event mix of one consultation, as the four services would publish it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from kolot.common.events import (
    AgeBand,
    AppealDecided,
    AppealDecidedData,
    AppealFiled,
    AppealFiledData,
    Attribution,
    CampaignOpened,
    CampaignSnapshot,
    CommentFlagged,
    CommentFlaggedData,
    CommentHidden,
    CommentHiddenData,
    CommentModerated,
    CommentModeratedData,
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    CommentSubmittedData,
    Decision,
    DisseminationRegistered,
    DisseminationRegisteredData,
    Event,
    InvitationSent,
    InvitationSentData,
    LinkClicked,
    LinkClickedData,
    LocalizedText,
    ModerationAlert,
    ModerationAlertData,
    NotificationData,
    NotificationFailed,
    NotificationSent,
    OutcomePublished,
    OutcomePublishedData,
    ParticipantRegistered,
    ParticipantRegisteredData,
    Profile,
    ResponseSubmitted,
    ResponseSubmittedData,
    Spend,
    VisitRecorded,
    VisitRecordedData,
    VoteCast,
    VoteCastData,
    WebhookDelivered,
    WebhookDeliveryData,
    WebhookFailed,
    derived_id,
)

CAMPAIGN = "c-budget-2026"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

# (participant, source, region, age band); p12 registers and never contributes
PARTICIPANTS: list[tuple[str, str | None, str | None, AgeBand | None]] = [
    ("p1", "facebook", "north", "25_34"),
    ("p2", "facebook", "north", "35_44"),
    ("p3", "facebook", "center", "25_34"),
    ("p4", "facebook", "center", "45_54"),
    ("p5", "facebook", "center", "65_plus"),
    ("p6", "facebook", "center", None),
    ("p7", "sms", "center", "55_64"),
    ("p8", "sms", "center", "18_24"),
    ("p9", "sms", "south", "35_44"),
    ("p10", None, None, None),
    ("p11", None, None, None),
    ("p12", "facebook", "south", "25_34"),
]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def consultation() -> list[Event]:
    """Everything that happens in one small consultation over two days, in causal order."""
    events: list[Event] = [
        CampaignOpened(
            id="opened",
            subject=CAMPAIGN,
            time=at(0),
            data=CampaignSnapshot(
                campaign_id=CAMPAIGN,
                status="open",
                title=LocalizedText(he="תקציב העירייה 2026", en="City budget 2026"),
                default_language="he",
                targets={"region": {"north": 0.3, "center": 0.5, "south": 0.2}},
            ),
        )
    ]

    def dissemination(did: str, source: str, amount: float, minutes: float) -> None:
        events.append(
            DisseminationRegistered(
                id=derived_id(did, str(amount)),
                subject=CAMPAIGN,
                time=at(minutes),
                data=DisseminationRegisteredData(
                    dissemination_id=did,
                    source=source,
                    channel="paid_social" if source == "facebook" else "sms",
                    spend=Spend(amount=amount),
                    recipients=20 if source == "sms" else 0,
                ),
            )
        )

    dissemination("d-fb", "facebook", 500.0, 1)
    dissemination("d-sms", "sms", 100.0, 1)
    dissemination("d-fb", "facebook", 600.0, 30)  # the spend was corrected: the latest counts
    for i in range(20):
        events.append(
            InvitationSent(
                id=f"inv-{i}",
                subject=CAMPAIGN,
                time=at(2),
                data=InvitationSentData(
                    invitation_id=f"i{i}",
                    dissemination_id="d-sms",
                    source="sms",
                    channel="sms",
                    recipient_ref=f"r{i}",
                ),
            )
        )
    for i in range(10):
        events.append(
            LinkClicked(
                id=f"click-{i}",
                subject=CAMPAIGN,
                time=at(3 + i),
                data=LinkClickedData(
                    link_id=f"l{i}", invitation_id=f"i{i}", dissemination_id="d-sms", source="sms"
                ),
            )
        )
    for source, count in (("facebook", 30), ("sms", 8), (None, 5)):
        for i in range(count):
            events.append(
                VisitRecorded(
                    id=f"visit-{source}-{i}",
                    subject=CAMPAIGN,
                    time=at(5 + i * 30),  # over a day
                    data=VisitRecordedData(
                        visit_id=f"v-{source}-{i}", attribution=Attribution(source=source)
                    ),
                )
            )
    for n, (pid, source, region, age) in enumerate(PARTICIPANTS):
        events.append(
            ParticipantRegistered(
                id=derived_id("registered", pid),
                subject=CAMPAIGN,
                time=at(10 + n),
                data=ParticipantRegisteredData(
                    participant_id=pid,
                    source=source,
                    campaign_id=CAMPAIGN,
                    profile=Profile(region=region, age_band=age),
                ),
            )
        )

    def submitted(cid: str, pid: str, minutes: float, channel: str = "web") -> None:
        events.append(
            CommentSubmitted(
                id=f"sub-{cid}",
                subject=CAMPAIGN,
                time=at(minutes),
                data=CommentSubmittedData(
                    comment_id=cid,
                    participant_id=pid,
                    text=f"text of {cid}",
                    text_sha256="0" * 64,
                    channel=channel,
                    circle="public",
                ),
            )
        )

    def moderated(
        cid: str, decision: Decision, minutes: float, *, automatic: bool = True, **extra: object
    ) -> None:
        events.append(
            CommentModerated(
                id=derived_id(cid, "moderated", str(automatic), decision),
                subject=CAMPAIGN,
                time=at(minutes),
                data=CommentModeratedData(
                    comment_id=cid,
                    decision=decision,
                    automatic=automatic,
                    redacted_text=f"text of {cid}",
                    language="he",
                    reasons=["abuse"] if decision == "reject" else [],
                    **extra,
                ),
            )
        )

    def published(cid: str, minutes: float, **extra: object) -> None:
        events.append(
            CommentPublished(
                id=derived_id(cid, "published", str(extra.get("cluster_size"))),
                subject=CAMPAIGN,
                time=at(minutes),
                data=CommentPublishedData(
                    comment_id=cid,
                    text=f"text of {cid}",
                    language="he",
                    **extra,
                ),
            )
        )

    # p1..p10 comment; two of them by SMS
    for n in range(1, 11):
        cid = f"k{n}"
        submitted(cid, f"p{n}", 60 + n * 45, channel="sms" if n in (7, 8) else "web")
        if n <= 6:  # approved by the machine in seconds
            moderated(cid, "approve", 60 + n * 45 + 0.05)
            published(cid, 60 + n * 45 + 0.05)
        elif n <= 7:
            moderated(cid, "reject", 60 + n * 45 + 0.05)
        else:  # to a person
            moderated(cid, "review", 60 + n * 45 + 0.05)
    # a person approves k8 after two hours; k9 and k10 wait
    moderated("k8", "approve", 60 + 8 * 45 + 120, automatic=False, moderator="m1")
    published("k8", 60 + 8 * 45 + 120)
    # p1 and p4 write again: a form letter that k1 stands for
    submitted("k11", "p1", 600)
    moderated("k11", "approve", 600.05, cluster_id="cl1")
    submitted("k12", "p4", 610)
    moderated("k12", "approve", 610.05, cluster_id="cl1")
    published("k1", 600.05, cluster_id="cl1", cluster_size=2)
    published("k1", 610.05, cluster_id="cl1", cluster_size=3)
    # k3 is flagged and hidden; its author appeals and loses
    for n, pid in enumerate(("p5", "p6")):
        events.append(
            CommentFlagged(
                id=f"flag-{n}",
                subject=CAMPAIGN,
                time=at(700 + n),
                data=CommentFlaggedData(comment_id="k3", participant_id=pid, reason="spam"),
            )
        )
    events.append(
        CommentHidden(
            id="hidden-k3",
            subject=CAMPAIGN,
            time=at(705),
            data=CommentHiddenData(comment_id="k3", reason="flags", flags=2),
        )
    )
    events.append(
        AppealFiled(
            id="appeal-1",
            subject=CAMPAIGN,
            time=at(720),
            data=AppealFiledData(appeal_id="a1", comment_id="k3", participant_id="p3", text="why"),
        )
    )
    events.append(
        AppealDecided(
            id="appeal-1-decided",
            subject=CAMPAIGN,
            time=at(900),
            data=AppealDecidedData(
                appeal_id="a1", comment_id="k3", outcome="upheld", statement="spam"
            ),
        )
    )
    # p4 and p7 answer the survey; p11 only votes
    for pid in ("p4", "p7"):
        events.append(
            ResponseSubmitted(
                id=f"resp-{pid}",
                subject=CAMPAIGN,
                time=at(800),
                data=ResponseSubmittedData(response_id=f"r-{pid}", participant_id=pid, answers={}),
            )
        )
    for pid, target in (("p11", "k1"), ("p2", "k1"), ("p11", "k2")):
        events.append(
            VoteCast(
                id=f"vote-{pid}-{target}",
                subject=CAMPAIGN,
                time=at(1500),
                data=VoteCastData(
                    vote_id=f"{pid}-{target}", participant_id=pid, target_id=target, value=1
                ),
            )
        )
    events += [
        NotificationSent(
            id="n1",
            subject=CAMPAIGN,
            time=at(950),
            data=NotificationData(notification_id="n1", channel="sms", template="published"),
        ),
        NotificationFailed(
            id="n2",
            subject=CAMPAIGN,
            time=at(950),
            data=NotificationData(notification_id="n2", channel="email", template="published"),
        ),
        WebhookDelivered(
            id="w1",
            subject=CAMPAIGN,
            time=at(951),
            data=WebhookDeliveryData(
                subscription_id="s1", event_id="x", event_type="t", attempt=1, duration_ms=80
            ),
        ),
        WebhookFailed(
            id="w2",
            subject=CAMPAIGN,
            time=at(952),
            data=WebhookDeliveryData(
                subscription_id="s1", event_id="y", event_type="t", attempt=5, error="timeout"
            ),
        ),
        ModerationAlert(
            id="alert-1",
            subject=CAMPAIGN,
            time=at(703),
            data=ModerationAlertData(
                alert_id="al1",
                kind="flag_surge",
                severity="warning",
                window_seconds=600,
                observed=2,
                baseline=0,
                message="flags",
                campaign_id=CAMPAIGN,
            ),
        ),
        OutcomePublished(
            id="outcome-1",
            subject=CAMPAIGN,
            time=at(2800),
            data=OutcomePublishedData(
                outcome_id="o1",
                summary=LocalizedText(he="שמענו ושינינו", en="We heard and changed"),
                decisions=[LocalizedText(he="עוד ספסלים", en="More benches")],
            ),
        ),
    ]
    return events


def shuffled(events: list[Event], seed: int) -> list[Event]:
    """The same events in another order: producers and consumers do not keep causal order."""
    mixed = list(events)
    random.Random(seed).shuffle(mixed)
    return mixed
