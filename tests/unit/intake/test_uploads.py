"""Meeting uploads: reading CSV/JSON as spreadsheets save them, per-row validation, the events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from kolot.common.events import (
    CampaignSnapshot,
    CommentSubmitted,
    LocalizedText,
    ParticipantRegistered,
    ResponseSubmitted,
    VoteCast,
)
from kolot.intake.uploads import (
    MAX_ROWS,
    Row,
    UploadFormatError,
    events_for,
    parse_rows,
    upload_id_for,
    validate_rows,
    vote_targets,
)

CAMPAIGN = CampaignSnapshot(
    campaign_id="c1",
    status="open",
    title=LocalizedText(he="תחבורה"),
    questions=[
        {"id": "q1", "kind": "single", "required": True, "options": [{"id": "yes"}, {"id": "no"}]},
        {"id": "q2", "kind": "scale"},
    ],
)
HEADER = "kind,text,answers,target_id,value,participant_ref,meeting_id,facilitator,language"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def csv_body(*lines: str, header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *lines]) + "\r\n").encode("utf-8")


def test_csv_with_a_bom_keeps_hebrew_and_arabic_text_and_the_first_column_name() -> None:
    body = b"\xef\xbb\xbf" + csv_body(
        'comment,"צריך עוד קווי לילה, בבקשה",,,,דובר-1,m1,רותי,he',
        "comment,نحتاج إلى المزيد من الحافلات,,,,,m1,رامي,ar",
    )
    rows = parse_rows(body, "text/csv")
    assert [r.number for r in rows] == [2, 3]
    assert rows[0].values["kind"] == "comment"  # not "\ufeffkind"
    assert rows[0].values["text"] == "צריך עוד קווי לילה, בבקשה"
    assert rows[1].values["text"] == "نحتاج إلى المزيد من الحافلات"


def test_utf16_and_semicolon_separated_sheets_are_read() -> None:
    text = "kind;text;meeting_id;facilitator\ncomment;שלום, עולם;m1;f\n"
    rows = parse_rows(text.encode("utf-16"), "text/csv")
    assert rows[0].values["kind"] == "comment"
    # the semicolon is the delimiter here: the comma stays in the text
    assert rows[0].values["text"] == "שלום, עולם"
    assert rows[0].values["facilitator"] == "f"


def test_quoted_newlines_stay_in_the_cell_and_rows_keep_spreadsheet_numbers() -> None:
    body = csv_body('comment,"שורה ראשונה\nשורה שנייה",,,,,m1,f,', "", "comment,שלישית,,,,,m1,f,")
    rows = parse_rows(body, "text/csv")
    assert rows[0].values["text"] == "שורה ראשונה\nשורה שנייה"
    assert [r.number for r in rows] == [2, 4]  # the blank row 3 is skipped, not renumbered


@pytest.mark.parametrize(
    ("body", "media_type", "message"),
    [
        (b"", "text/csv", "empty"),
        (b"kind,txt\ncomment,x\n", "text/csv", "unknown columns: txt"),
        (b"text\nx\n", "text/csv", "'kind' column"),
        (b"kind,kind\nx,y\n", "text/csv", "twice"),
        ("kind,text\ncomment,שלום\n".encode("cp1255"), "text/csv", "UTF-8"),
        (b"kind\n", "text/csv", "no rows"),
        (b'{"kind": "comment"}', "application/json", "array"),
        (b"[{", "application/json", "invalid JSON"),
    ],
)
def test_unreadable_files_are_refused_as_a_whole(
    body: bytes, media_type: str, message: str
) -> None:
    with pytest.raises(UploadFormatError, match=message):
        parse_rows(body, media_type)


def test_more_than_the_maximum_rows_is_refused() -> None:
    body = csv_body(*["comment,x,,,,,m,f,"] * (MAX_ROWS + 1))
    with pytest.raises(UploadFormatError, match="at most"):
        parse_rows(body, "text/csv")


def test_json_rows_are_numbered_from_one_and_may_hold_answers_as_objects() -> None:
    body = json.dumps(
        {
            "rows": [
                {
                    "kind": "response",
                    "answers": {"q1": "yes"},
                    "meeting_id": "m",
                    "facilitator": "f",
                },
                "not an object",
            ]
        },
        ensure_ascii=False,
    ).encode()
    rows = parse_rows(body, "application/json")
    assert [r.number for r in rows] == [1, 2]
    result = validate_rows(
        rows, campaign=CAMPAIGN, upload_id="u", max_comment_chars=100, targets={}, now=NOW
    )
    assert [r.answers for r in result.valid] == [{"q1": "yes"}]
    assert [(e.row, e.field) for e in result.errors] == [(2, "row")]


def rows_of(*lines: str) -> list[Row]:
    return parse_rows(csv_body(*lines), "text/csv")


def test_every_error_of_every_row_is_reported_and_good_rows_pass() -> None:
    rows = rows_of(
        "comment,  טוב מאוד\u202e ,,,,,m1,f,he",  # 2: fine, cleaned
        "comment,,,,,,m1,f,",  # 3: empty text
        "complaint,x,,,,,,,",  # 4: bad kind, no meeting, no facilitator
        'response,,"{""q1"": ""maybe"", ""q9"": 1}",,,,m1,f,',  # 5: bad option, unknown question
        "response,,{not json,,,,m1,f,",  # 6
        "vote,,,c-published,2,,m1,f,",  # 7: bad value
        "vote,,,c-unknown,1,,m1,f,",  # 8: unknown target
        "vote,,,c-published,-1,,m1,f,xx",  # 9: bad language
        f"comment,{'א' * 101},,,,,m1,f,",  # 10: too long
        "vote,,,c-published,+1,r1,m1,f,",  # 11: fine
    )
    targets = {"c-published": {"_id": "c-published", "campaign_id": "c1", "status": "published"}}
    result = validate_rows(
        rows, campaign=CAMPAIGN, upload_id="u", max_comment_chars=100, targets=targets, now=NOW
    )
    assert [r.number for r in result.valid] == [2, 11]
    assert result.valid[0].text == "טוב מאוד"
    assert result.valid[1].value == 1
    assert result.rejected == 8
    assert {(e.row, e.field) for e in result.errors} == {
        (3, "text"),
        (4, "kind"),
        (4, "meeting_id"),
        (4, "facilitator"),
        (5, "answers.q1"),
        (5, "answers.q9"),
        (6, "answers"),
        (7, "value"),
        (8, "target_id"),
        (9, "language"),
        (10, "text"),
    }
    too_long = next(e for e in result.errors if e.row == 10)
    assert "101" in too_long.message


def test_a_vote_on_ones_own_comment_is_refused() -> None:
    rows = rows_of("vote,,,c-own,1,speaker-7,m1,f,")
    from kolot.intake.uploads import participant_for

    author = participant_for("c1", "u", 0, "speaker-7")
    targets = {
        "c-own": {
            "_id": "c-own",
            "campaign_id": "c1",
            "status": "published",
            "participant_id": author,
        }
    }
    result = validate_rows(
        rows, campaign=CAMPAIGN, upload_id="u", max_comment_chars=100, targets=targets, now=NOW
    )
    assert [(e.row, e.field) for e in result.errors] == [(2, "target_id")]
    assert vote_targets(rows) == ["c-own"]


def test_recorded_at_needs_a_zone_and_not_the_future() -> None:
    header = HEADER + ",recorded_at"
    rows = parse_rows(
        csv_body(
            "comment,a,,,,,m,f,,2026-11-20T18:30:00+02:00",
            "comment,b,,,,,m,f,,2026-11-20T18:30:00",
            "comment,c,,,,,m,f,,2027-01-01T00:00:00Z",
            "comment,d,,,,,m,f,,last tuesday",
            header=header,
        ),
        "text/csv",
    )
    result = validate_rows(
        rows, campaign=CAMPAIGN, upload_id="u", max_comment_chars=100, targets={}, now=NOW
    )
    assert [r.number for r in result.valid] == [2]
    assert [(e.row, e.field) for e in result.errors] == [
        (3, "recorded_at"),
        (4, "recorded_at"),
        (5, "recorded_at"),
    ]


def test_events_carry_provenance_deterministic_ids_and_one_registration_per_speaker() -> None:
    body = csv_body(
        "comment,first,,,,speaker-1,m1,רותי,",
        "comment,second,,,,speaker-1,m1,רותי,",
        "comment,third,,,,,m2,רותי,",
        'response,,"{""q1"": ""no""}",,,speaker-1,m2,רותי,',
    )
    upload_id = upload_id_for("c1", body)
    assert upload_id == upload_id_for("c1", body)
    assert upload_id != upload_id_for("c2", body)
    rows = parse_rows(body, "text/csv")
    valid = validate_rows(
        rows, campaign=CAMPAIGN, upload_id=upload_id, max_comment_chars=100, targets={}, now=NOW
    ).valid

    def build() -> list[object]:
        return list(events_for(valid, campaign_id="c1", upload_id=upload_id, registered=set()))

    events = build()
    assert [e.id for e in events] == [e.id for e in build()]  # type: ignore[attr-defined]
    kinds = [type(e) for e in events]
    assert kinds == [
        ParticipantRegistered,
        CommentSubmitted,
        CommentSubmitted,
        ParticipantRegistered,
        CommentSubmitted,
        ResponseSubmitted,
    ]
    comments = [e for e in events if isinstance(e, CommentSubmitted)]
    assert comments[0].data.participant_id == comments[1].data.participant_id
    assert comments[2].data.participant_id != comments[0].data.participant_id
    for event in comments:
        assert event.data.channel == "meeting"
        assert event.data.provenance is not None
        assert event.data.provenance.upload_id == upload_id
        assert event.data.provenance.facilitator == "רותי"
    assert comments[2].data.provenance is not None
    assert comments[2].data.provenance.meeting_id == "m2"
    registrations = [e for e in events if isinstance(e, ParticipantRegistered)]
    assert {r.data.channel for r in registrations} == {"meeting"}
    assert not any(isinstance(e, VoteCast) for e in events)
