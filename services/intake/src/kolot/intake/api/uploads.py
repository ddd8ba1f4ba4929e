"""Bulk uploads of contributions recorded at in-person meetings (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from kolot.common.problems import Problem
from kolot.intake.api.deps import AdminDep, ServiceDep
from kolot.intake.uploads import (
    COLUMNS,
    MAX_ROWS,
    UploadFormatError,
    Uploads,
    job_view,
    parse_rows,
)

router = APIRouter(prefix="/v1", tags=["uploads"])

_MEDIA_TYPES = {
    "text/csv": "text/csv",
    # what browsers on Windows call a .csv file
    "application/vnd.ms-excel": "text/csv",
    "application/json": "application/json",
}


class RowErrorOut(BaseModel):
    row: int
    field: str
    message: str


class UploadJob(BaseModel):
    id: str
    campaign_id: str | None
    status: str
    """validating, publishing, done or failed."""
    total: int
    published: int
    rejected: int
    errors: list[RowErrorOut]
    errors_truncated: bool = False
    detail: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


def _uploads(request: Request) -> Uploads:
    uploads: Uploads = request.app.state.uploads
    return uploads


def _job(doc: dict[str, Any]) -> UploadJob:
    return UploadJob.model_validate(job_view(doc))


@router.post(
    "/campaigns/{campaign_id}/uploads",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Upload contributions recorded at in-person meetings (CSV or JSON)",
    description=(
        f"The raw body is `text/csv` (UTF-8, a BOM is fine; UTF-16 too) or `application/json` "
        f"(an array of row objects), at most {MAX_ROWS} rows and 20 MiB. Columns: "
        f"{', '.join(COLUMNS)} (docs/channels.md). Answers 202 with the job; follow `Location` "
        "(`GET /v1/uploads/{id}`) for its progress and the per-row error report. Every row is "
        "validated first; rows with errors are rejected, the others are published. Posting the "
        "same file again never duplicates anything: a finished upload is answered as it stands, "
        "and an upload whose replica died on the way (failed, or no progress for a minute) "
        "resumes where it stopped."
    ),
    response_model=UploadJob,
    responses={
        415: {"description": "neither text/csv nor application/json"},
        422: {"description": "the file as a whole cannot be read"},
    },
)
async def upload(
    campaign_id: str,
    request: Request,
    response: Response,
    service: ServiceDep,
    staff: AdminDep,
) -> UploadJob:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in _MEDIA_TYPES:
        raise Problem(
            415,
            "unsupported-media-type",
            "Send CSV or JSON",
            "the body must be text/csv or application/json",
        )
    campaign = await service.require_meeting_window(campaign_id)
    body = await request.body()
    try:
        rows = parse_rows(body, _MEDIA_TYPES[media_type])
    except UploadFormatError as exc:
        raise Problem(422, "unreadable-upload", "The file cannot be read", str(exc)) from exc
    doc = await _uploads(request).start(campaign, body, rows, staff=staff.subject)
    response.headers["Location"] = f"/v1/uploads/{doc['_id']}"
    return _job(doc)


@router.get("/uploads/{upload_id}", summary="An upload's progress and per-row error report")
async def get_upload(upload_id: str, request: Request, _: AdminDep) -> UploadJob:
    doc = await _uploads(request).get(upload_id)
    if doc is None:
        raise Problem(404, "upload-not-found", "No such upload", f"no upload {upload_id}")
    return _job(doc)
