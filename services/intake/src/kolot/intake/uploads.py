"""Bulk uploads of contributions recorded at in-person meetings (CSV or JSON, up to 10,000 rows).

Every row is validated first, with the same rules as the web (``clean_text`` and the comment
length limit, ``validate_answers``, vote targets), into a per-row error report; the valid rows are
then published in chunks, one pipelined publish (one round trip) per chunk.

Idempotent end to end: the upload id derives from the campaign and the SHA-256 of the body, each
event id from (upload id, row number) and each participant from (campaign, participant_ref). A
re-posted file that finished publishes nothing; one whose replica died mid-way is taken over (its
job's lease is stale) and republished from the last chunk recorded, the stream's duplicate window
and every consumer's applied-ids set dropping whatever had already gone out.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pymongo.errors import DuplicateKeyError

from kolot.common.events import (
    CampaignSnapshot,
    CommentSubmitted,
    CommentSubmittedData,
    Event,
    ParticipantRegistered,
    ParticipantRegisteredData,
    Provenance,
    ResponseSubmitted,
    ResponseSubmittedData,
    VoteCast,
    VoteCastData,
    derived_id,
    new_id,
    utcnow,
)
from kolot.common.store import Document, stamp
from kolot.intake.repository import IntakeRepository
from kolot.intake.rules import AnswerErrors, validate_answers
from kolot.intake.service import IntakeService
from kolot.intake.text import clean_text, sha256_hex

log = logging.getLogger(__name__)

MAX_ROWS = 10_000
MAX_BODY_BYTES = 20 * 1024 * 1024
CHUNK_ROWS = 500
MAX_STORED_ERRORS = 1_000
STALE_AFTER = timedelta(seconds=60)
"""A job not updated for this long lost its replica: a re-post of the same file takes it over."""

COLUMNS = (
    "kind",
    "text",
    "answers",
    "target_id",
    "value",
    "participant_ref",
    "meeting_id",
    "facilitator",
    "language",
    "recorded_at",
)
KINDS = ("comment", "response", "vote")
LANGUAGES = ("he", "ar", "en")
_REF_MAX = 128

UploadStatus = Literal["validating", "publishing", "done", "failed"]


class UploadFormatError(ValueError):
    """The body as a whole cannot be read (not a single row is looked at)."""


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass(frozen=True, slots=True)
class Row:
    """A raw row and its number: the spreadsheet row for CSV (the header is row 1), the position
    in the array (from 1) for JSON."""

    number: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ValidRow:
    number: int
    kind: Literal["comment", "response", "vote"]
    participant_id: str
    meeting_id: str
    facilitator: str
    recorded_at: datetime | None
    text: str | None = None
    answers: dict[str, Any] | None = None
    target_id: str | None = None
    value: Literal[-1, 1] | None = None


# reading the body ------------------------------------------------------------------------


def upload_id_for(campaign_id: str, body: bytes) -> str:
    return derived_id("upload", campaign_id, hashlib.sha256(body).hexdigest())


def _decode(body: bytes) -> str:
    # spreadsheets save Hebrew and Arabic as UTF-8 with a BOM, or as UTF-16 ("Unicode text")
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return body.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UploadFormatError(f"the file is not valid UTF-16: {exc.reason}") from exc
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadFormatError(
            f"the file is not UTF-8 (byte {exc.start}): save it as 'CSV UTF-8' "
            "(a legacy encoding such as Windows-1255 or -1256 cannot be read safely)"
        ) from exc


def parse_rows(body: bytes, media_type: str) -> list[Row]:
    """The rows of a CSV (``text/csv``) or JSON (``application/json``) body."""
    if not body.strip():
        raise UploadFormatError("the file is empty")
    text = _decode(body)
    rows = _parse_json(text) if media_type == "application/json" else _parse_csv(text)
    if not rows:
        raise UploadFormatError("the file has no rows")
    if len(rows) > MAX_ROWS:
        raise UploadFormatError(
            f"the file has {len(rows)} rows; at most {MAX_ROWS} per upload: split it"
        )
    return rows


def _parse_csv(text: str) -> list[Row]:
    first_line = text.split("\n", 1)[0]
    # Excel writes ';' or tabs where the decimal separator is a comma
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise UploadFormatError("the file is empty")
        names = [h.strip().lstrip("\ufeff").casefold() for h in header]
        unknown = [n for n in names if n not in COLUMNS]
        if unknown:
            raise UploadFormatError(
                f"unknown columns: {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}"
            )
        if len(set(names)) != len(names):
            raise UploadFormatError("a column appears twice in the header")
        if "kind" not in names:
            raise UploadFormatError("the header needs a 'kind' column")
        rows: list[Row] = []
        for number, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue  # blank lines between rows, as spreadsheets leave them
            if len(record) > len(names):
                rows.append(Row(number, {"__extra__": len(record)}))
                continue
            rows.append(Row(number, dict(zip(names, record, strict=False))))
            if len(rows) > MAX_ROWS:
                break
    except csv.Error as exc:
        raise UploadFormatError(f"unreadable CSV near line {reader.line_num}: {exc}") from exc
    return rows


def _parse_json(text: str) -> list[Row]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UploadFormatError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except (ValueError, RecursionError) as exc:
        # valid JSON Python will not read: a number of over 4,300 digits, or nesting deeper
        # than the interpreter's recursion limit (both escaped as a 500 before)
        raise UploadFormatError(f"unreadable JSON: {str(exc)[:100]}") from exc
    if isinstance(document, dict) and isinstance(document.get("rows"), list):
        document = document["rows"]
    if not isinstance(document, list):
        raise UploadFormatError('give a JSON array of rows (or {"rows": [...]})')
    rows: list[Row] = []
    for number, item in enumerate(document, start=1):
        rows.append(Row(number, item if isinstance(item, dict) else {"__not_object__": True}))
    return rows


# validating rows -------------------------------------------------------------------------


@dataclass(slots=True)
class Validation:
    valid: list[ValidRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rejected: int = 0


def participant_for(campaign_id: str, upload_id: str, row: int, ref: str | None) -> str:
    """Rows with one ``participant_ref`` share a participant across the campaign's uploads (a
    facilitator's pseudonym for a speaker); a row without one is its own participant."""
    if ref:
        return derived_id("meeting-participant", campaign_id, ref)
    return derived_id("meeting-participant", upload_id, str(row))


def _cell(values: dict[str, Any], name: str) -> str | None:
    value = values.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        value = (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )
    if isinstance(value, str):
        value = value.strip()
        return value or None
    raise TypeError(name)


def validate_rows(
    rows: Sequence[Row],
    *,
    campaign: CampaignSnapshot,
    upload_id: str,
    max_comment_chars: int,
    targets: dict[str, Document],
    now: datetime | None = None,
) -> Validation:
    """Every row checked; a row with any error is rejected whole, and every error is reported
    (so that a facilitator fixes the sheet in one go). ``targets`` are the vote targets found in
    the store (id -> comment document)."""
    now = now or utcnow()
    result = Validation()
    questions = campaign.question_list()
    for row in rows:
        errors: list[RowError] = []
        parsed = _validate_row(
            row,
            campaign=campaign,
            upload_id=upload_id,
            max_comment_chars=max_comment_chars,
            targets=targets,
            questions=questions,
            now=now,
            errors=errors,
        )
        if errors or parsed is None:
            result.rejected += 1
            result.errors.extend(errors)
        else:
            result.valid.append(parsed)
    return result


def _validate_row(
    row: Row,
    *,
    campaign: CampaignSnapshot,
    upload_id: str,
    max_comment_chars: int,
    targets: dict[str, Document],
    questions: list[Any],
    now: datetime,
    errors: list[RowError],
) -> ValidRow | None:
    n = row.number

    def error(name: str, message: str) -> None:
        errors.append(RowError(n, name, message))

    values = row.values
    if "__not_object__" in values:
        error("row", "each row is a JSON object")
        return None
    if "__extra__" in values:
        error("row", f"the row has {values['__extra__']} cells, more than the header's columns")
        return None
    unknown = sorted(k for k in values if k not in COLUMNS)
    if unknown:
        error(unknown[0], f"unknown field; the fields are {', '.join(COLUMNS)}")

    cells: dict[str, str | None] = {}
    for name in (c for c in COLUMNS if c != "answers"):  # answers are JSON, read below
        try:
            cells[name] = _cell(values, name)
        except TypeError:
            error(name, "give a text")
            cells[name] = None

    kind = (cells["kind"] or "").casefold()
    if kind not in KINDS:
        error("kind", f"give one of {', '.join(KINDS)}")

    for name in ("meeting_id", "facilitator"):
        cell = cells[name]
        if cell is None:
            error(name, "required: every contribution from a meeting names it")
        elif len(cell) > _REF_MAX:
            error(name, f"at most {_REF_MAX} characters")
    ref = cells["participant_ref"]
    if ref is not None and len(ref) > _REF_MAX:
        error("participant_ref", f"at most {_REF_MAX} characters")
    language = cells["language"]
    if language is not None and language.casefold() not in LANGUAGES:
        error("language", f"give one of {', '.join(LANGUAGES)} (or leave it empty)")

    recorded_at: datetime | None = None
    if cells["recorded_at"] is not None:
        try:
            recorded_at = datetime.fromisoformat(cells["recorded_at"].replace("Z", "+00:00"))
        except ValueError:
            error("recorded_at", "give an ISO 8601 time, e.g. 2026-11-20T18:30:00+02:00")
        else:
            if recorded_at.tzinfo is None:
                error("recorded_at", "give the time zone, e.g. 2026-11-20T18:30:00+02:00")
                recorded_at = None
            elif recorded_at > now + timedelta(minutes=5):
                error("recorded_at", "is in the future")
    if campaign.status == "closed" and campaign.closes_at is not None:
        # a meeting held before the closing may be uploaded a little later; one held after may not
        if cells["recorded_at"] is None:
            error("recorded_at", "required once the consultation has closed: when was it said?")
        elif recorded_at is not None and recorded_at > campaign.closes_at:
            error("recorded_at", "is after the consultation closed")

    participant_id = participant_for(campaign.campaign_id, upload_id, n, ref)
    text: str | None = None
    answers: dict[str, Any] | None = None
    target_id: str | None = None
    value: Literal[-1, 1] | None = None
    if kind == "comment":
        text = clean_text(cells["text"] or "")
        if not text:
            error("text", "the comment is empty")
        elif len(text) > max_comment_chars:
            error(
                "text",
                f"a comment may have at most {max_comment_chars} characters; "
                f"this one has {len(text)}",
            )
    elif kind == "response":
        answers = _answers(values.get("answers"), error)
        if answers is not None:
            if not questions:
                error("answers", "this consultation has no survey")
                answers = None
            else:
                try:
                    answers = validate_answers(questions, answers)
                except AnswerErrors as exc:
                    for question, message in exc.errors.items():
                        error(f"answers.{question}", message)
                    answers = None
    elif kind == "vote":
        target_id = cells["target_id"]
        raw_value = (cells["value"] or "").removeprefix("+")
        if raw_value in {"1", "-1"}:
            value = 1 if raw_value == "1" else -1
        else:
            error("value", "give 1 (support) or -1 (oppose)")
        target = targets.get(target_id or "")
        if target_id is None:
            error("target_id", "required: the id of the comment voted on")
        elif (
            target is None
            or target.get("campaign_id") != campaign.campaign_id
            or target.get("status") != "published"
        ):
            error("target_id", "no published comment of this consultation has this id")
        elif target.get("participant_id") == participant_id:
            error("target_id", "a participant cannot vote on their own comment")

    if errors:
        return None
    assert kind in KINDS
    return ValidRow(
        number=n,
        kind=kind,  # type: ignore[arg-type]
        participant_id=participant_id,
        meeting_id=cells["meeting_id"] or "",
        facilitator=cells["facilitator"] or "",
        recorded_at=recorded_at,
        text=text,
        answers=answers,
        target_id=target_id,
        value=value,
    )


def _answers(raw: Any, error: Any) -> dict[str, Any] | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        error("answers", 'required: the answers as a JSON object, e.g. {"q1": "yes"}')
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            error("answers", f"invalid JSON ({exc.msg} at column {exc.colno})")
            return None
        except (ValueError, RecursionError):
            error("answers", "unreadable JSON (a number too long or nesting too deep)")
            return None
    if not isinstance(raw, dict):
        error("answers", "give a JSON object of question id to answer")
        return None
    return raw


def vote_targets(rows: Iterable[Row]) -> list[str]:
    found: set[str] = set()
    for row in rows:
        if str(row.values.get("kind", "")).strip().casefold() == "vote":
            target = row.values.get("target_id")
            if isinstance(target, str) and target.strip():
                found.add(target.strip())
    return sorted(found)


# events ----------------------------------------------------------------------------------


def events_for(
    rows: Sequence[ValidRow], *, campaign_id: str, upload_id: str, registered: set[str]
) -> list[Event]:
    """The events of some valid rows, each participant's registration before their first
    contribution (``registered`` holds the participants already registered by this upload)."""
    events: list[Event] = []
    for row in rows:
        if row.participant_id not in registered:
            registered.add(row.participant_id)
            events.append(
                ParticipantRegistered(
                    id=derived_id("registered", row.participant_id),
                    subject=campaign_id,
                    data=ParticipantRegisteredData(
                        participant_id=row.participant_id,
                        source="meeting",
                        channel="meeting",
                        campaign_id=campaign_id,
                    ),
                )
            )
        provenance = Provenance(
            meeting_id=row.meeting_id, facilitator=row.facilitator, upload_id=upload_id
        )
        # the time of the event is when it was said, when the sheet says so
        times: dict[str, Any] = {"time": row.recorded_at} if row.recorded_at else {}
        row_ref = str(row.number)
        if row.kind == "comment":
            assert row.text is not None
            comment_id = derived_id("upload-comment", upload_id, row_ref)
            events.append(
                CommentSubmitted(
                    id=comment_id,
                    subject=campaign_id,
                    **times,
                    data=CommentSubmittedData(
                        comment_id=comment_id,
                        participant_id=row.participant_id,
                        text=row.text,
                        text_sha256=sha256_hex(row.text),
                        channel="meeting",
                        provenance=provenance,
                    ),
                )
            )
        elif row.kind == "response":
            assert row.answers is not None
            events.append(
                ResponseSubmitted(
                    id=derived_id("upload-response", upload_id, row_ref),
                    subject=campaign_id,
                    **times,
                    data=ResponseSubmittedData(
                        # one response per participant and consultation, as on the web
                        response_id=derived_id("response", campaign_id, row.participant_id),
                        participant_id=row.participant_id,
                        answers=row.answers,
                        channel="meeting",
                        provenance=provenance,
                    ),
                )
            )
        else:
            assert row.target_id is not None
            assert row.value is not None
            events.append(
                VoteCast(
                    id=derived_id("upload-vote", upload_id, row_ref),
                    subject=campaign_id,
                    **times,
                    data=VoteCastData(
                        vote_id=derived_id("vote", row.participant_id, row.target_id),
                        participant_id=row.participant_id,
                        target_id=row.target_id,
                        value=row.value,
                        channel="meeting",
                        provenance=provenance,
                    ),
                )
            )
    return events


# jobs ------------------------------------------------------------------------------------


def job_view(doc: Document) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "campaign_id": doc.get("campaign_id"),
        "status": doc.get("status"),
        "total": doc.get("total", 0),
        "published": doc.get("published", 0),
        "rejected": doc.get("rejected", 0),
        "errors": doc.get("errors", []),
        "errors_truncated": doc.get("errors_truncated", False),
        "detail": doc.get("detail"),
        "created_at": doc.get("created_at"),
        "updated_at": doc.get("updated_at"),
    }


def _parse_stamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


class LostLease(Exception):
    """Another replica took the job over (this one was too slow): stop without touching it."""


class Uploads:
    """Starts, resumes and runs upload jobs; a job's document is its progress and its lease."""

    def __init__(self, service: IntakeService, *, max_comment_chars: int) -> None:
        self.service = service
        self._max_comment_chars = max_comment_chars
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def repository(self) -> IntakeRepository:
        return self.service.repository

    def _jobs(self) -> Any:
        return self.repository.collection("uploads")

    async def get(self, upload_id: str) -> Document | None:
        doc: Document | None = await self._jobs().find_one({"_id": upload_id})
        return doc

    async def start(
        self, campaign: CampaignSnapshot, body: bytes, rows: list[Row], *, staff: str
    ) -> Document:
        """The job for this file, started or taken over when no live replica is running it."""
        upload_id = upload_id_for(campaign.campaign_id, body)
        now = utcnow()
        lease = new_id()
        existing = await self.get(upload_id)
        if existing is None:
            doc: Document = {
                "_id": upload_id,
                "campaign_id": campaign.campaign_id,
                "sha256": hashlib.sha256(body).hexdigest(),
                "status": "validating",
                "total": len(rows),
                "published": 0,
                "rejected": 0,
                "errors": [],
                "errors_truncated": False,
                "chunks_done": 0,
                "lease": lease,
                "uploaded_by": staff,
                "created_at": stamp(now),
                "updated_at": stamp(now),
            }
            try:
                await self._jobs().insert_one(doc)
            except DuplicateKeyError:
                # the same file posted twice at once: the other request runs it
                return await self.get(upload_id) or doc
            self._run_later(campaign, rows, doc)
            return doc
        if existing.get("status") == "done":
            return existing
        updated = _parse_stamp(existing.get("updated_at"))
        running = existing.get("status") in {"validating", "publishing"}
        if running and updated is not None and now - updated < STALE_AFTER:
            return existing
        claimed = await self._jobs().update_one(
            {"_id": upload_id, "lease": existing.get("lease")},
            {
                "$set": {
                    "lease": lease,
                    "status": "validating",
                    "updated_at": stamp(now),
                    "detail": None,
                }
            },
        )
        if claimed.matched_count != 1:
            return await self.get(upload_id) or existing
        log.info("upload %s: taking over at chunk %s", upload_id, existing.get("chunks_done", 0))
        doc = {**existing, "lease": lease, "status": "validating", "updated_at": stamp(now)}
        self._run_later(campaign, rows, doc)
        return doc

    async def keep(self) -> None:
        """Runs for the life of the app; on shutdown, stops the uploads in progress (their jobs
        go stale, and posting the same file again resumes them)."""
        try:
            await asyncio.Event().wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _run_later(self, campaign: CampaignSnapshot, rows: list[Row], doc: Document) -> None:
        task = asyncio.create_task(self.run(campaign, rows, doc), name=f"upload {doc['_id']}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _progress(self, doc: Document, **changes: Any) -> None:
        changes["updated_at"] = stamp(utcnow())
        result = await self._jobs().update_one(
            {"_id": doc["_id"], "lease": doc["lease"]}, {"$set": changes}
        )
        if result.matched_count != 1:
            raise LostLease(doc["_id"])

    async def run(self, campaign: CampaignSnapshot, rows: list[Row], doc: Document) -> None:
        upload_id = str(doc["_id"])
        try:
            await self._run(campaign, rows, doc)
        except LostLease:
            log.warning("upload %s: another replica took the job over", upload_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the job says what went wrong; re-posting resumes it
            log.exception("upload %s failed", upload_id)
            try:
                await self._progress(
                    doc,
                    status="failed",
                    detail=f"{type(exc).__name__}: post the same file again to resume",
                )
            except Exception:  # the store is away too: the lease goes stale, a re-post resumes
                log.exception("upload %s: could not record the failure", upload_id)

    async def _run(self, campaign: CampaignSnapshot, rows: list[Row], doc: Document) -> None:
        upload_id = str(doc["_id"])
        started = asyncio.get_running_loop().time()
        targets = await self._targets(vote_targets(rows))
        # validation is CPU work: in a thread, so the replica keeps answering meanwhile
        validation = await asyncio.to_thread(
            validate_rows,
            rows,
            campaign=campaign,
            upload_id=upload_id,
            max_comment_chars=self._max_comment_chars,
            targets=targets,
        )
        errors = [e.to_dict() for e in validation.errors]
        await self._progress(
            doc,
            status="publishing",
            rejected=validation.rejected,
            errors=errors[:MAX_STORED_ERRORS],
            errors_truncated=len(errors) > MAX_STORED_ERRORS,
        )
        valid = validation.valid
        done_chunks = int(doc.get("chunks_done") or 0)
        registered: set[str] = set()
        for index, begin in enumerate(range(0, len(valid), CHUNK_ROWS)):
            chunk = valid[begin : begin + CHUNK_ROWS]
            events = events_for(
                chunk, campaign_id=campaign.campaign_id, upload_id=upload_id, registered=registered
            )
            if index < done_chunks:
                continue  # published before this replica took over
            await self.service.publisher.publish(*events)
            await self._progress(doc, published=begin + len(chunk), chunks_done=index + 1)
        await self._progress(doc, status="done", published=len(valid))
        log.info(
            "upload %s: %d rows published, %d rejected, in %.1f s",
            upload_id,
            len(valid),
            validation.rejected,
            asyncio.get_running_loop().time() - started,
        )

    async def _targets(self, ids: list[str]) -> dict[str, Document]:
        found: dict[str, Document] = {}
        for begin in range(0, len(ids), 1000):
            cursor = self.repository.comments.find(
                {"_id": {"$in": ids[begin : begin + 1000]}},
                {"campaign_id": 1, "status": 1, "participant_id": 1},
            )
            async for doc in cursor:
                found[str(doc["_id"])] = doc
        return found
