"""The event catalogue as a contract: what every producer and reader of the bus relies on."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

import kolot.common.events as events_package
from kolot.common.events import (
    EVENT_CLASSES,
    NO_CAMPAIGN,
    UPCASTERS,
    Event,
    UndecodableEvent,
    UnknownEventType,
    VisitRecorded,
    current_version,
    derived_id,
    new_id,
    parse_event,
)
from kolot.common.events.export import (
    SCHEMA_DIR,
    current_schemas,
    incompatibilities,
    schema_filename,
)

REPO = Path(__file__).resolve().parents[3]
COMMITTED_SCHEMAS = REPO / "libs" / "common" / "schemas"

CAMPAIGN = {
    "campaign_id": "c-transport",
    "status": "open",
    "title": {"he": "תחבורה ציבורית", "ar": "المواصلات العامة", "en": "Public transport"},
    "moderation_mode": "pre",
    "circles": [{"id": "public", "name": "everyone"}],
    "opens_at": "2026-01-01T08:00:00Z",
}
DELIVERY = {"notification_id": "n1", "channel": "email", "template": "receipt"}
WEBHOOK = {
    "subscription_id": "s1",
    "event_id": "e1",
    "event_type": "kolot.comment.published",
    "attempt": 2,
    "status_code": 200,
    "duration_ms": 12.5,
}

# One realistic ``data`` per event type. A new type without a sample fails
# ``test_every_event_type_has_a_sample``, so the catalogue cannot grow untested.
SAMPLES: dict[str, dict[str, Any]] = {
    "kolot.campaign.created": {**CAMPAIGN, "status": "draft"},
    "kolot.campaign.updated": CAMPAIGN,
    "kolot.campaign.opened": CAMPAIGN,
    "kolot.campaign.closed": {**CAMPAIGN, "status": "closed"},
    "kolot.campaign.archived": {**CAMPAIGN, "status": "archived"},
    "kolot.campaign.purged": {
        "campaign_id": "c-transport",
        "closed_at": "2026-03-01T00:00:00Z",
        "retention_days": 365,
        "due_at": "2027-03-01T00:00:00Z",
    },
    "kolot.participant.registered": {"participant_id": "p1", "kind": "ngo", "source": "facebook"},
    "kolot.participant.verified": {"participant_id": "p1", "circle": "experts", "method": "invite"},
    "kolot.participant.erased": {"participant_id": "p1"},
    "kolot.dissemination.registered": {
        "dissemination_id": "d1",
        "source": "facebook",
        "channel": "paid_social",
        "spend": {"amount": 10000, "currency": "ILS"},
    },
    "kolot.invitation.sent": {
        "invitation_id": "i1",
        "dissemination_id": "d1",
        "source": "sms",
        "channel": "sms",
        "recipient_ref": "h:abc",
    },
    "kolot.link.clicked": {"link_id": "l1", "invitation_id": "i1"},
    "kolot.visit.recorded": {"visit_id": "v1", "attribution": {"source": "facebook", "tag": "x"}},
    "kolot.comment.submitted": {
        "comment_id": "cm1",
        "participant_id": "p1",
        "text": "שלום עולם",
        "text_sha256": "0" * 64,
        "channel": "meeting",
        "provenance": {"meeting_id": "m1", "facilitator": "f1"},
    },
    "kolot.comment.moderated": {
        "comment_id": "cm1",
        "decision": "approve",
        "automatic": True,
        "reasons": ["clean"],
        "scores": {"toxicity": 0.02},
        "redacted_text": "שלום [טלפון]",
    },
    "kolot.comment.published": {
        "comment_id": "cm1",
        "text": "مرحبا",
        "submitted_at": "2026-01-02T10:00:00.123456Z",
    },
    "kolot.comment.hidden": {"comment_id": "cm1", "reason": "flags"},
    "kolot.comment.flagged": {"comment_id": "cm1", "participant_id": "p2", "reason": "spam"},
    "kolot.appeal.filed": {
        "appeal_id": "a1",
        "comment_id": "cm1",
        "participant_id": "p1",
        "text": "please look again",
    },
    "kolot.appeal.decided": {
        "appeal_id": "a1",
        "comment_id": "cm1",
        "outcome": "overturned",
        "statement": "restored",
    },
    "kolot.response.submitted": {
        "response_id": "r1",
        "participant_id": "p1",
        "answers": {"q1": "yes", "q2": [1, 2], "q3": None},
    },
    "kolot.vote.cast": {"vote_id": "vt1", "participant_id": "p1", "target_id": "cm1", "value": -1},
    "kolot.moderation.alert": {
        "alert_id": "al1",
        "kind": "abuse_surge",
        "severity": "warning",
        "window_seconds": 300,
        "observed": 12.0,
        "baseline": 2.5,
        "message": "abuse x5",
    },
    "kolot.outcome.published": {
        "outcome_id": "o1",
        "summary": {"he": "שמענו"},
        "decisions": [{"en": "we did"}],
        "url": "https://gov.example/o1",
    },
    "kolot.notification.sent": DELIVERY,
    "kolot.notification.failed": {**DELIVERY, "error": "mailbox full"},
    "kolot.webhook.delivered": WEBHOOK,
    "kolot.webhook.failed": {**WEBHOOK, "status_code": 500, "error": "server error"},
}

EVENT_TYPES = sorted(EVENT_CLASSES)
PUBLIC_TYPES = [t for t in EVENT_TYPES if EVENT_CLASSES[t].public]


def sample(event_type: str, **envelope: Any) -> Event:
    return EVENT_CLASSES[event_type].model_validate(
        {"subject": "c-transport", "data": SAMPLES[event_type], **envelope}
    )


def document(event: Event) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(event.to_json())
    return parsed


def test_every_event_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(EVENT_CLASSES)


# -- the envelope -------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_event_round_trips_through_json(event_type: str) -> None:
    event = sample(event_type)

    parsed = parse_event(event.to_json())

    assert type(parsed) is EVENT_CLASSES[event_type]
    assert parsed == event
    assert parse_event(event.to_dict()) == event
    assert parse_event(event.to_json().decode()) == event


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_event_is_a_cloudevent(event_type: str) -> None:
    body = document(sample(event_type))

    assert body["specversion"] == "1.0"
    assert body["type"] == event_type
    assert body["datacontenttype"] == "application/json"
    assert body["dataschemaversion"] == current_version(event_type)
    assert re.fullmatch(r"kolot/[a-z]+", body["source"])
    assert datetime.fromisoformat(body["time"]).tzinfo is not None


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_event_is_frozen(event_type: str) -> None:
    event = sample(event_type)

    with pytest.raises(ValidationError):
        event.subject = "another-campaign"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        event.data.x = 1


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_unknown_fields_are_ignored(event_type: str) -> None:
    event = sample(event_type)
    body = document(event)
    body["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    body["data"]["added_by_a_newer_producer"] = {"nested": [1, 2]}

    parsed = parse_event(json.dumps(body))

    assert parsed == event
    assert "added_by_a_newer_producer" not in parsed.data.model_dump()


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_entity_and_action_come_from_the_type(event_type: str) -> None:
    cls = EVENT_CLASSES[event_type]
    _, entity, action = event_type.split(".")

    assert (cls.entity, cls.action) == (entity, action)
    assert cls.event_type() == event_type
    event = sample(event_type)
    assert event.subject_for("kolot", "events") == f"kolot.events.{entity}.{action}.c-transport"
    assert event.subject_for("t1", "public") == f"t1.public.{entity}.{action}.c-transport"
    assert event.campaign_id == "c-transport"


def test_an_event_without_a_campaign_uses_the_placeholder_token() -> None:
    event = EVENT_CLASSES["kolot.participant.erased"].model_validate(
        {"data": SAMPLES["kolot.participant.erased"]}
    )

    assert event.subject == NO_CAMPAIGN
    assert event.subject_for("kolot", "events") == "kolot.events.participant.erased._"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_class_says_who_emits_it(event_type: str) -> None:
    doc = EVENT_CLASSES[event_type].__dict__.get("__doc__")

    assert doc, f"{event_type} needs its own docstring (who emits it, and when)"
    assert doc.strip() != (Event.__doc__ or "").strip()


@pytest.mark.parametrize("event_type", PUBLIC_TYPES)
def test_public_events_carry_no_participant(event_type: str) -> None:
    data_model = EVENT_CLASSES[event_type].model_fields["data"].annotation
    assert isinstance(data_model, type)
    assert issubclass(data_model, BaseModel)

    data_fields = data_model.model_fields

    assert not {"participant_id", "recipient_ref"} & set(data_fields)


def test_new_ids_are_time_ordered_uuid7() -> None:
    ids = [new_id() for _ in range(50)]

    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert sample("kolot.vote.cast").id != sample("kolot.vote.cast").id


def test_derived_id_is_deterministic() -> None:
    first = derived_id("cm1", "approve")

    assert derived_id("cm1", "approve") == first
    assert uuid.UUID(first).version == 5
    assert derived_id("cm1", "reject") != first
    assert derived_id("cm2", "approve") != first
    assert derived_id("approve", "cm1") != first
    # a redelivered input re-emits the same event, which the bus then deduplicates by id
    emitted = [sample("kolot.comment.hidden", id=derived_id("cm1", "hidden")) for _ in range(2)]
    assert emitted[0].id == emitted[1].id


# -- decoding and upcasting ---------------------------------------------------------------------

VISIT_V1 = {
    "specversion": "1.0",
    "id": "0190d1f2-aaaa-7bbb-8ccc-000000000001",
    "source": "kolot/intake",
    "type": "kolot.visit.recorded",
    "subject": "c-transport",
    "time": "2025-06-01T09:30:00Z",
    "datacontenttype": "application/json",
    "dataschemaversion": 1,
    "data": {"visit_id": "v1", "participant_id": "p1", "source": "facebook", "medium": "cpc"},
}


def test_a_v1_visit_is_read_in_the_v2_shape() -> None:
    event = parse_event(json.dumps(VISIT_V1))

    assert isinstance(event, VisitRecorded)
    assert event.dataschemaversion == current_version("kolot.visit.recorded") == 2
    assert event.id == VISIT_V1["id"]
    assert event.data.visit_id == "v1"
    assert event.data.participant_id == "p1"
    assert event.data.attribution.source == "facebook"
    assert event.data.attribution.medium == "cpc"
    assert "source" not in event.data.model_dump()
    # the upcast event is a valid v2 event: it round-trips as such
    assert parse_event(event.to_json()) == event


def test_a_v1_visit_without_attribution_reads_as_empty_attribution() -> None:
    body = {**VISIT_V1, "data": {"visit_id": "v2"}}
    del body["dataschemaversion"]  # a missing version means 1

    event = parse_event(body)

    assert isinstance(event, VisitRecorded)
    assert event.data.attribution.model_dump() == dict.fromkeys(
        ("source", "medium", "tag", "invitation_id")
    )


def test_upcasting_does_not_change_the_input_document() -> None:
    body = json.loads(json.dumps(VISIT_V1))

    parse_event(body)

    assert body == VISIT_V1


def test_a_version_newer_than_this_code_is_undecodable() -> None:
    body = document(sample("kolot.comment.submitted"))
    body["dataschemaversion"] = current_version("kolot.comment.submitted") + 1

    with pytest.raises(UndecodableEvent, match="newer") as caught:
        parse_event(json.dumps(body))
    assert not isinstance(caught.value, UnknownEventType)


def test_an_unknown_type_is_reported_as_such() -> None:
    body = document(sample("kolot.comment.submitted"))
    body["type"] = "kolot.comment.teleported"

    with pytest.raises(UnknownEventType, match=r"kolot\.comment\.teleported"):
        parse_event(json.dumps(body))
    with pytest.raises(UnknownEventType):
        parse_event({"specversion": "1.0"})


@pytest.mark.parametrize(
    "raw",
    [
        b"not json at all",
        b"\xff\xfe\x00",
        b"",
        b"[1, 2, 3]",
        b'"a string"',
    ],
    ids=["text", "binary", "empty", "array", "string"],
)
def test_non_events_are_undecodable(raw: bytes) -> None:
    with pytest.raises(UndecodableEvent):
        parse_event(raw)


def test_an_event_that_breaks_its_schema_is_undecodable() -> None:
    body = document(sample("kolot.vote.cast"))
    body["data"]["value"] = 5

    with pytest.raises(UndecodableEvent, match=r"kolot\.vote\.cast"):
        parse_event(json.dumps(body))
    body = document(sample("kolot.comment.submitted"))
    del body["data"]["text"]
    with pytest.raises(UndecodableEvent):
        parse_event(json.dumps(body))


def test_every_old_version_has_an_upcaster() -> None:
    missing = [
        (event_type, version)
        for event_type in EVENT_CLASSES
        for version in range(1, current_version(event_type))
        if (event_type, version) not in UPCASTERS
    ]

    assert not missing, f"add an upcaster beside the class for {missing}"
    assert all(
        event_type in EVENT_CLASSES and 1 <= version < current_version(event_type)
        for event_type, version in UPCASTERS
    ), "an upcaster for a version that is current (or for an unknown type) is never used"


# -- published JSON Schemas ---------------------------------------------------------------------

SCHEMA_NAME = re.compile(r"^(?P<type>kolot\.[a-z]+\.[a-z]+)\.v(?P<version>\d+)\.json$")


def published_schemas() -> dict[str, tuple[str, int, dict[str, Any]]]:
    found = {}
    for path in sorted(COMMITTED_SCHEMAS.glob("*.json")):
        match = SCHEMA_NAME.match(path.name)
        assert match, f"{path.name} is not named <type>.v<N>.json"
        found[path.name] = (
            match["type"],
            int(match["version"]),
            json.loads(path.read_text(encoding="utf-8")),
        )
    return found


def test_the_exporter_writes_where_the_schemas_are_committed() -> None:
    assert SCHEMA_DIR.resolve() == COMMITTED_SCHEMAS.resolve()
    assert published_schemas(), "no committed schema at all"


def test_every_current_version_has_a_committed_schema() -> None:
    missing = sorted(set(current_schemas()) - set(published_schemas()))

    assert not missing, f"run `make schemas` and commit {missing}"


def test_no_published_event_type_disappeared() -> None:
    gone = sorted({t for t, _, _ in published_schemas().values()} - set(EVENT_CLASSES))

    assert not gone, f"readers still rely on these published types: {gone}"


def test_published_versions_are_still_readable() -> None:
    unreadable = [
        name
        for name, (event_type, version, _) in published_schemas().items()
        if event_type in EVENT_CLASSES and version > current_version(event_type)
    ]

    assert not unreadable, f"schemas of versions this code cannot read: {unreadable}"


@pytest.mark.parametrize(
    "name",
    [
        name
        for name, (event_type, version, _) in published_schemas().items()
        if event_type in EVENT_CLASSES and version == current_version(event_type)
    ],
)
def test_current_classes_stay_compatible_with_their_published_schema(name: str) -> None:
    _, _, published = published_schemas()[name]

    problems = incompatibilities(published, current_schemas()[name])

    assert not problems, (
        f"{name}: {problems}. A breaking change needs a new version and an upcaster; "
        "an additive change needs `make schemas`."
    )


# ``incompatibilities`` on hand-made schemas (as pydantic exports them).


class Place(BaseModel):
    city: str
    street: str | None = None


class PlaceWithoutStreet(BaseModel):
    city: str


class PlaceWithPostcode(BaseModel):
    city: str
    street: str | None = None
    postcode: str


class Base(BaseModel):
    comment_id: str
    score: float
    language: str | None = None
    kind: Literal["a", "b"] = "a"
    place: Place


class Removed(BaseModel):
    comment_id: str
    language: str | None = None
    kind: Literal["a", "b"] = "a"
    place: Place


class Retyped(BaseModel):
    comment_id: str
    score: str
    language: str | None = None
    kind: Literal["a", "b"] = "a"
    place: Place


class NewRequired(BaseModel):
    comment_id: str
    score: float
    language: str | None = None
    kind: Literal["a", "b"] = "a"
    place: Place
    circle: str


class NewOptional(BaseModel):
    comment_id: str
    score: float
    language: str | None = None
    kind: Literal["a", "b"] = "a"
    place: Place
    circle: str | None = None
    tags: list[str] = Field(default_factory=list)


class Reworded(BaseModel):
    """Titles, descriptions and defaults are documentation, not shape."""

    comment_id: str = Field(title="Comment", description="the comment's id")
    score: float = Field(description="0..1")
    language: str | None = "he"
    kind: Literal["a", "b"] = "b"
    place: Place


class NestedRemoved(BaseModel):
    comment_id: str
    score: float
    language: str | None = None
    kind: Literal["a", "b"] = "a"
    place: PlaceWithoutStreet


class NestedRequired(BaseModel):
    comment_id: str
    score: float
    language: str | None = None
    kind: Literal["a", "b"] = "a"
    place: PlaceWithPostcode


class LiteralWidened(BaseModel):
    comment_id: str
    score: float
    language: str | None = None
    kind: Literal["a", "b", "c"] = "a"
    place: Place


def changes(old: type[BaseModel], new: type[BaseModel]) -> list[str]:
    return incompatibilities(old.model_json_schema(), new.model_json_schema())


def test_an_unchanged_schema_is_compatible() -> None:
    assert changes(Base, Base) == []


def test_a_removed_field_is_reported() -> None:
    assert changes(Base, Removed) == ["score: removed"]


def test_a_retyped_field_is_reported() -> None:
    assert changes(Base, Retyped) == ["score: type changed"]


def test_a_new_required_field_is_reported() -> None:
    assert changes(Base, NewRequired) == ["circle: new required field"]


def test_new_optional_fields_are_compatible() -> None:
    assert changes(Base, NewOptional) == []


def test_titles_descriptions_and_defaults_are_not_shape() -> None:
    assert changes(Base, Reworded) == []


def test_changes_inside_a_nested_object_are_reported_with_their_path() -> None:
    assert changes(Base, NestedRemoved) == ["place.street: removed"]
    assert changes(Base, NestedRequired) == ["place.postcode: new required field"]


def test_a_changed_literal_is_reported() -> None:
    assert changes(Base, LiteralWidened) == ["kind: type changed"]


def test_the_real_envelope_is_checked_down_to_its_data() -> None:
    published = current_schemas()[schema_filename("kolot.comment.submitted", 1)]
    current = json.loads(json.dumps(published))
    del current["$defs"]["CommentSubmittedData"]["properties"]["text_sha256"]

    assert "data.text_sha256: removed" in incompatibilities(published, current)


class OptionalPlace(BaseModel):
    place: Place | None = None


class OptionalPlaceWithoutStreet(BaseModel):
    place: PlaceWithoutStreet | None = None


class Places(BaseModel):
    places: list[Place] = Field(default_factory=list)


class PlacesWithoutStreet(BaseModel):
    places: list[PlaceWithoutStreet] = Field(default_factory=list)


def test_changes_inside_optional_objects_and_lists_of_objects_are_reported() -> None:
    assert changes(OptionalPlace, OptionalPlaceWithoutStreet) == ["place.street: removed"]
    assert changes(Places, PlacesWithoutStreet) != []


# -- the package's public names -----------------------------------------------------------------


def _submodules() -> list[Any]:
    return [
        importlib.import_module(f"{events_package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(events_package.__path__)
    ]


def test_all_names_exist() -> None:
    assert len(events_package.__all__) == len(set(events_package.__all__))
    for name in events_package.__all__:
        assert hasattr(events_package, name), f"__all__ lists {name}, which does not exist"


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(events_package).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }

    assert set(events_package.__all__) == public


def test_every_public_class_of_the_package_is_exported() -> None:
    defined = {
        name
        for module in _submodules()
        for name, value in vars(module).items()
        if inspect.isclass(value) and value.__module__ == module.__name__ and name[0] != "_"
    }

    assert defined - set(events_package.__all__) == set()
    assert {cls.__name__ for cls in EVENT_CLASSES.values()} <= set(events_package.__all__)


def test_event_times_are_timezone_aware() -> None:
    naive = {**document(sample("kolot.vote.cast")), "time": "2026-01-01T00:00:00"}

    with pytest.raises(UndecodableEvent):
        parse_event(naive)
    assert sample("kolot.vote.cast").time.tzinfo is not None
    assert sample("kolot.vote.cast", time=datetime(2026, 1, 1, tzinfo=UTC)).time.year == 2026
