"""The participation page: ``GET /c/{campaign_id}?lang=he|ar|en`` and the forms it posts.

Server-rendered HTML that works without JavaScript: each form posts to a page route here, which
calls the same service method as the JSON API (so the same rules apply) and answers
Post/Redirect/Get: ``303`` back to the page, with a status message and an anchor. A visitor
without a participant cookie is registered as an anonymous participant on their first post (the
same service call as ``POST /v1/participants``); the token is kept in an HttpOnly cookie that no
script reads. The page's small script posts the same forms with ``Accept: application/json`` and
updates the page in place; it never holds the token either.

These routes are left out of the OpenAPI document: they are pages and form targets, not the
API (whose contract the JSON routes keep). docs/pages.md lists them.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError

from kolot.common.auth import AuthError, Participant, ParticipantTokens
from kolot.common.bus import BusUnavailable
from kolot.common.events import CampaignSnapshot
from kolot.common.problems import Problem, problem_response
from kolot.intake.api.campaigns import _is_admin
from kolot.intake.api.contributions import _decode_cursor, _encode_cursor, own_view
from kolot.intake.api.deps import Contributor, address_origin, admit, bearer
from kolot.intake.pages.assets import STATIC, static_url
from kolot.intake.pages.forms import (
    Flash,
    Form,
    FormGuard,
    idempotency_key,
    short_code,
    source_of,
    survey_answers,
)
from kolot.intake.pages.text import (
    FLAG_REASONS,
    LANGUAGE_NAMES,
    LANGUAGES,
    RTL,
    STRINGS,
    Language,
    language_of,
    preferred_language,
)
from kolot.intake.pages.views import (
    CommentNode,
    Failure,
    OwnItem,
    Page,
    localized,
    question_view,
    when,
)
from kolot.intake.rules import MAX_REPLY_DEPTH
from kolot.intake.schemas import (
    CommentCreate,
    FlagCreate,
    ParticipantCreate,
    ResponseCreate,
    VisitCreate,
    VoteCreate,
)
from kolot.intake.service import IntakeError, IntakeService

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

PAGE_SIZE: Final = 20
MAX_REPLIES: Final = 200
"""Replies read per level of a page's threads (one read each)."""
MAX_OWN: Final = 50
PARTICIPANT_COOKIE: Final = "kolot_participant"
VISITOR_COOKIE: Final = "kolot_visitor"
FLASH_COOKIE: Final = "kolot_flash"
COOKIE_PATH: Final = "/c/"
PARTICIPANT_COOKIE_AGE: Final = 365 * 86400  # the participant token's own lifetime

PAGE_HEADERS: Final = {
    # connect-src 'self': the page's script posts the forms and polls the author's own statuses
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # the page holds the visitor's own contributions and form tokens: never in a shared cache
    "Cache-Control": "private, no-cache",
}

_templates = Environment(
    loader=PackageLoader("kolot.intake.pages", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


# static files ------------------------------------------------------------------------------------


@router.get("/c/_static/{name}")
async def static_file(name: str, request: Request) -> Response:
    found = STATIC.get(name)
    if found is None:
        return Response(status_code=404, headers={"X-Content-Type-Options": "nosniff"})
    return found.response(request.query_params.get("v"), gzipped=_accepts_gzip(request))


def _accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")


# published comments ------------------------------------------------------------------------------


class PublicPages:
    """The published comments' pages, kept for a moment: every visitor of a consultation sees the
    same ones, so a crowd opening the page costs the store a few reads a second, not one per view
    (moderation's decisions show up at most ``ttl`` seconds later; the author's own list, read
    per visitor, is never kept)."""

    def __init__(self, *, ttl: float = 2.0, max_entries: int = 4096) -> None:
        self._ttl, self._max_entries = ttl, max_entries
        self._pages: dict[tuple[str, str, str | None], tuple[float, Page]] = {}

    async def get(
        self, service: IntakeService, campaign_id: str, *, sort: str, before: str | None
    ) -> Page:
        key = (campaign_id, sort, before)
        now = time.monotonic()
        kept = self._pages.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        page = await _threads(service, campaign_id, sort=sort, before=before)
        if len(self._pages) >= self._max_entries:
            self._pages = {k: v for k, v in self._pages.items() if v[0] > now}
            if len(self._pages) >= self._max_entries:
                self._pages.clear()
        self._pages[key] = (now + self._ttl, page)
        return page


async def _threads(
    service: IntakeService, campaign_id: str, *, sort: str, before: str | None
) -> Page:
    """A page of published comments with their threads: one read for the page, then one per
    level of replies that exist (at most ``MAX_REPLY_DEPTH``), never one per comment."""
    order = "sort_key" if sort == "newest" else "rank"
    docs = await service.repository.published_comments(
        campaign_id, before=before, limit=PAGE_SIZE, order=order
    )
    next_cursor = _encode_cursor(docs[-1][order]) if len(docs) == PAGE_SIZE else None
    roots = [CommentNode.of(doc) for doc in docs]
    level = {node.id: node for node, doc in zip(roots, docs, strict=True) if doc.get("replies")}
    for _ in range(MAX_REPLY_DEPTH):
        if not level:
            break
        replies = await service.repository.published_replies(list(level), limit=MAX_REPLIES)
        deeper: dict[str, CommentNode] = {}
        for doc in replies:
            parent = level.get(str(doc.get("parent_id")))
            if parent is None:
                continue
            node = CommentNode.of(doc)
            parent.children.append(node)
            if doc.get("replies"):
                deeper[node.id] = node
        level = deeper
    return roots, next_cursor


async def _own(
    service: IntakeService, campaign_id: str, participant: Participant | None
) -> list[OwnItem]:
    if participant is None:
        return []
    docs = await service.repository.own_comments(
        participant.participant_id, campaign_id=campaign_id, limit=MAX_OWN
    )
    items = []
    for doc in docs:
        view = own_view(doc)
        items.append(
            OwnItem(
                id=view.id,
                text=view.text,
                status=view.status,
                created_at=when(view.created_at or doc.get("created_at")),
                statement=view.statement,
                appeal_status=view.appeal_status,
            )
        )
    return items


# who is asking -----------------------------------------------------------------------------------


def _max_chars(request: Request) -> int:
    limit: int = request.app.state.runtime.settings.max_comment_chars
    return limit


def _tokens(request: Request) -> ParticipantTokens:
    tokens: ParticipantTokens = request.app.state.participant_tokens
    return tokens


def _pages(request: Request) -> PublicPages:
    # one per app (not per module): each app, and each test's, has its own store
    pages: PublicPages | None = getattr(request.app.state, "public_pages", None)
    if pages is None:
        pages = request.app.state.public_pages = PublicPages()
    return pages


def _guard(request: Request) -> FormGuard:
    guard: FormGuard = request.app.state.page_forms
    return guard


def _participant(request: Request) -> Participant | None:
    token = request.cookies.get(PARTICIPANT_COOKIE)
    if not token:
        return None
    try:
        return _tokens(request).verify(token)
    except AuthError:
        return None  # expired or from another installation: a visitor like any other


def _form_subject(participant: Participant | None, visitor: str | None) -> str:
    return f"p:{participant.participant_id}" if participant else f"v:{visitor}"


def _secure_cookies(request: Request) -> bool:
    environment: str = request.app.state.runtime.settings.environment
    return environment not in ("development", "test")  # plain http on a developer's machine


def _set_cookie(
    request: Request, response: Response, name: str, value: str, age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure_cookies(request),
    )


def _language(request: Request, campaign: CampaignSnapshot | None, asked: str | None) -> Language:
    return (
        language_of(asked)
        or (campaign.default_language if campaign else None)
        or preferred_language(request.headers.get("accept-language", ""))
        or "he"
    )


async def _visible(request: Request, campaign_id: str) -> CampaignSnapshot | None:
    if len(campaign_id) > 64:
        return None
    service: IntakeService = request.app.state.intake
    campaign = await service.directory.get(campaign_id)
    if campaign is None:
        return None
    if campaign.status == "draft" and not await _is_admin(request, bearer(request)):
        return None  # a draft is reviewed in a closed circle first
    return campaign


def _page_url(campaign_id: str, lang: str, **query: str | None) -> str:
    params = {"lang": lang, **{k: v for k, v in query.items() if v}}
    return f"/c/{campaign_id}?{urlencode(params)}"


# rendering ---------------------------------------------------------------------------------------


def _html(
    request: Request, body: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """An HTML answer with the page's headers, gzipped for clients that take it (a page of 20
    comments is a sixth of its size compressed: what a phone on a slow network feels)."""
    encoded = body.encode()
    answer = {**PAGE_HEADERS, **(headers or {}), "Vary": "Accept-Encoding"}
    if len(encoded) > 1024 and _accepts_gzip(request):
        encoded, answer["Content-Encoding"] = gzip.compress(encoded, compresslevel=6), "gzip"
    return Response(encoded, status, answer, media_type="text/html; charset=utf-8")


def _problem_page(
    request: Request,
    lang: Language,
    status: int,
    title_key: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    t = STRINGS[lang]
    body = _templates.get_template("problem.html").render(
        lang=lang,
        dir="rtl" if lang in RTL else "ltr",
        t=t,
        status=status,
        title=t[title_key],
        detail=detail,
        css_url=static_url("participation.css"),
    )
    return _html(request, body, status, headers)


@dataclass
class PageState:
    """Everything one rendering of the page depends on."""

    campaign: CampaignSnapshot
    lang: Language
    participant: Participant | None
    visitor: str | None
    sort: str = "newest"
    cursor: str | None = None
    source: str | None = None
    done: str | None = None
    flash: Flash | None = None
    failure: Failure | None = None
    open_form: str | None = None
    """``reply-<id>`` or ``flag-<id>``: the one comment whose reply or report form is shown
    (forms for every comment would triple the page's weight)."""


async def _render(request: Request, state: PageState, *, status: int = 200) -> str:
    service: IntakeService = request.app.state.intake
    campaign, lang = state.campaign, state.lang
    me = state.participant.participant_id if state.participant else None
    before = _decode_cursor(state.cursor, "supported" if state.sort == "supported" else "newest")
    (comments, next_cursor), own = await asyncio.gather(
        _pages(request).get(service, campaign.campaign_id, sort=state.sort, before=before),
        _own(service, campaign.campaign_id, state.participant),
    )
    fallback = campaign.default_language
    t = STRINGS[lang]
    page = _page_url(campaign.campaign_id, lang)
    return _templates.get_template("participation.html").render(
        lang=lang,
        dir="rtl" if lang in RTL else "ltr",
        t=t,
        status=status,
        campaign=campaign,
        cid=campaign.campaign_id,
        is_open=campaign.status == "open",
        title=localized(campaign.title, lang, fallback),
        description=localized(campaign.description, lang, fallback),
        purpose=localized(campaign.purpose, lang, fallback),
        use_of_input=localized(campaign.use_of_input, lang, fallback),
        discourse_rules=localized(campaign.discourse_rules, lang, fallback),
        closes_at=when(campaign.closes_at) if campaign.closes_at else None,
        questions=[question_view(q, lang, fallback) for q in campaign.question_list()],
        comments=comments,
        me=me,
        next_url=(
            _page_url(campaign.campaign_id, lang, sort=state.sort, cursor=next_cursor) + "#comments"
            if next_cursor
            else None
        ),
        sort=state.sort,
        open_form=state.open_form,
        here_url=_page_url(campaign.campaign_id, lang, sort=_sorted(state), cursor=state.cursor),
        sort_urls={
            "newest": _page_url(campaign.campaign_id, lang) + "#comments",
            "supported": _page_url(campaign.campaign_id, lang, sort="supported") + "#comments",
        },
        languages=[
            (code, LANGUAGE_NAMES[code], _page_url(campaign.campaign_id, code, sort=_sorted(state)))
            for code in LANGUAGES
        ],
        own=own,
        flash=state.flash,
        flash_code=short_code(state.flash.receipt) if state.flash else None,
        flash_pending=state.flash is not None
        and state.flash.kind in ("comment", "reply")
        and all(item.id != state.flash.id for item in own),
        has_participant=state.participant is not None,
        done=t.get(f"done_{state.done}") if state.done else None,
        failure=state.failure,
        csrf=_guard(request).token(_form_subject(state.participant, state.visitor)),
        form_key=secrets.token_urlsafe(12),
        source=state.source if state.participant is None else None,
        flag_reasons=FLAG_REASONS,
        max_chars=_max_chars(request),
        max_depth=MAX_REPLY_DEPTH,
        page_url=page,
        css_url=static_url("participation.css"),
        js_url=static_url("participation.js"),
    )


def _sorted(state: PageState) -> str | None:
    return state.sort if state.sort != "newest" else None


# the page ----------------------------------------------------------------------------------------

_OPEN_FORM: Final = re.compile(r"^(reply|flag)-[\w\-]{1,64}$")
_pending_visits: set[asyncio.Task[str]] = set()


def _record_visit_later(
    service: IntakeService, campaign_id: str, request: Request, visitor: Participant | None
) -> None:
    """visit.recorded is published beside the page, not before it: the page does not wait for
    the bus, and a visit the bus refuses is logged, not shown to the visitor as an error."""
    query = request.query_params
    attribution = VisitCreate(
        source=source_of(query.get("source") or query.get("utm_source")),
        medium=source_of(query.get("medium") or query.get("utm_medium")),
        tag=(query.get("tag") or query.get("utm_campaign") or "")[:128] or None,
    )
    task = asyncio.create_task(service.record_visit(campaign_id, attribution, visitor=visitor))
    _pending_visits.add(task)
    task.add_done_callback(_visit_recorded)


def _visit_recorded(task: asyncio.Task[str]) -> None:
    _pending_visits.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a page visit was not recorded: %s", task.exception())


@router.get("/c/{campaign_id}")
async def participation_page(campaign_id: str, request: Request) -> Response:
    query = request.query_params
    campaign = await _visible(request, campaign_id)
    lang = _language(request, campaign, query.get("lang"))
    try:
        await address_origin(request)
    except Problem as exc:
        return _refusal_page(request, lang, exc)
    if campaign is None:
        return _problem_page(request, lang, 404, "not_found", STRINGS[lang]["not_found_detail"])
    participant = _participant(request)
    visitor = request.cookies.get(VISITOR_COOKIE) or (
        None if participant else secrets.token_urlsafe(18)
    )
    flash = Flash.decode(request.cookies.get(FLASH_COOKIE))
    done, form = query.get("done"), query.get("form")
    state = PageState(
        campaign=campaign,
        lang=lang,
        participant=participant,
        visitor=visitor,
        sort="supported" if query.get("sort") == "supported" else "newest",
        cursor=query.get("cursor"),
        source=source_of(query.get("source") or query.get("utm_source")),
        done=done if done in ("comment", "reply", "response", "vote", "flag") else None,
        flash=flash,
        open_form=form if form and _OPEN_FORM.match(form) else None,
    )
    try:
        body = await _render(request, state)
    except Problem as exc:  # a cursor that is not one of ours
        return _problem_page(request, lang, exc.status, "bad_request", exc.detail or exc.title)
    if state.done is None and state.open_form is None:
        # a page view is a visit; the view after a post, or to open a form, is the same visit
        _record_visit_later(request.app.state.intake, campaign.campaign_id, request, participant)
    response = _html(request, body)
    if participant is None and not request.cookies.get(VISITOR_COOKIE) and visitor:
        _set_cookie(request, response, VISITOR_COOKIE, visitor, None)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/c/{campaign_id}/mine")
async def own_contributions(campaign_id: str, request: Request) -> Response:
    """The "your contributions" section alone, for the page's script to refresh in place."""
    campaign = await _visible(request, campaign_id)
    lang = _language(request, campaign, request.query_params.get("lang"))
    if campaign is None:
        return _problem_page(request, lang, 404, "not_found", STRINGS[lang]["not_found_detail"])
    service: IntakeService = request.app.state.intake
    participant = _participant(request)
    flash = Flash.decode(request.cookies.get(FLASH_COOKIE))
    own = await _own(service, campaign.campaign_id, participant)
    body = _templates.get_template("mine.html").render(
        t=STRINGS[lang],
        own=own,
        flash=flash,
        flash_code=short_code(flash.receipt) if flash else None,
        flash_pending=flash is not None
        and flash.kind in ("comment", "reply")
        and all(item.id != flash.id for item in own),
        has_participant=participant is not None,
    )
    response = _html(request, body)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=COOKIE_PATH)
    return response


# posting -----------------------------------------------------------------------------------------

Action = Callable[[IntakeService, Contributor, Form], Awaitable["Posted"]]


@dataclass(frozen=True, slots=True)
class Posted:
    done: str
    anchor: str
    flash: Flash | None = None


class FieldError(Exception):
    """A form field the page refuses before asking the service (the service would, too)."""

    def __init__(self, field_name: str, key: str) -> None:
        super().__init__(key)
        self.field_name, self.key = field_name, key


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def _post(
    request: Request,
    campaign_id: str,
    form_id: str,
    fields: tuple[str, ...],
    action: Action,
    *,
    check: Callable[[Form], object] | None = None,
) -> Response:
    """``check`` refuses a malformed form (``FieldError``) before a first-time visitor is
    registered: an empty comment should not make anyone a participant."""
    form = Form.parse(await request.body())
    campaign = await _visible(request, campaign_id)
    lang = _language(request, campaign, form.get("lang"))
    if campaign is None:
        return _problem_page(request, lang, 404, "not_found", STRINGS[lang]["not_found_detail"])
    t = STRINGS[lang]
    participant = _participant(request)
    visitor = request.cookies.get(VISITOR_COOKIE)
    subjects = [s for s in (participant and f"p:{participant.participant_id}",) if s]
    if visitor:
        subjects.append(f"v:{visitor}")  # a form rendered before this visitor's first post
    if not _guard(request).check(form.get("csrf"), subjects):
        if _wants_json(request):
            return problem_response(request, 403, "forbidden", t["forbidden"], t["err_csrf"])
        return _problem_page(request, lang, 403, "forbidden", t["err_csrf"])
    service: IntakeService = request.app.state.intake
    new_token: str | None = None
    failure = Failure(
        form=form_id,
        values={k: v for k, v in form.values().items() if k in fields or k.startswith("q.")},
        multi={k: [v for key, v in form.pairs if key == k] for k in form.values() if k[:2] == "q."},
    )
    status, headers = 422, {}
    try:
        if check is not None:
            check(form)
        if participant is None:
            origin = await address_origin(request)
            registered = await service.register_participant(
                ParticipantCreate(
                    source=source_of(form.get("source")), campaign_id=campaign.campaign_id
                )
            )
            new_token = registered.token
            participant = _tokens(request).verify(registered.token)
            contributor = await admit(request, participant, origin=origin)
        else:
            contributor = await admit(request, participant)
        posted = await action(service, contributor, form)
    except FieldError as exc:
        failure.errors[exc.field_name] = t[exc.key].format(max=_max_chars(request))
    except IntakeError as exc:
        status = exc.status
        if exc.kind == "campaign-not-found":
            return _problem_page(request, lang, 404, "not_found", t["not_found_detail"])
        _explain(exc, failure, t, _max_chars(request))
    except Problem as exc:  # the rate limits
        status, headers = exc.status, exc.headers
        failure.alert = t["err_rate"].format(seconds=exc.extensions.get("retry_after", 1))
    except BusUnavailable:
        status, headers = 503, {"Retry-After": "2"}
        failure.alert = t["err_unavailable"]
    else:
        return _posted(request, campaign.campaign_id, lang, posted, new_token)
    if _wants_json(request):
        response: Response = problem_response(
            request,
            status,
            "page-form",
            t["errors_title"],
            failure.alert or next(iter(failure.errors.values()), t["err_generic"]),
            headers=headers,
            errors=failure.errors,
        )
    else:
        state = PageState(
            campaign=campaign,
            lang=lang,
            participant=participant,
            visitor=visitor,
            source=source_of(form.get("source")),
            failure=failure,
        )
        response = _html(request, await _render(request, state, status=status), status, headers)
    if new_token:
        _set_cookie(request, response, PARTICIPANT_COOKIE, new_token, PARTICIPANT_COOKIE_AGE)
    return response


_FIELD_ERRORS: Final = {
    "validation": ("text", "err_comment_empty"),
    "comment-too-long": ("text", "err_comment_too_long"),
    "bad-parent": ("text", "err_bad_parent"),
    "too-deep": ("text", "err_too_deep"),
}
_PAGE_ERRORS: Final = {
    "campaign-not-open": "err_closed",
    "circle-closed": "err_circle",
    "unknown-circle": "err_circle",
    "comment-not-found": "err_comment_gone",
    "own-comment": "err_own",
}


def _explain(exc: IntakeError, failure: Failure, t: dict[str, str], max_chars: int) -> None:
    """The service's refusal in the visitor's language, tied to the field it concerns."""
    if exc.kind == "invalid-answers":
        for error in exc.extensions.get("errors", []):
            question, detail = str(error.get("question")), str(error.get("detail"))
            if question == "answers":
                failure.alert = t["err_no_answers"]
            else:
                key = "err_answer_required" if "required" in detail else "err_answer_invalid"
                failure.errors[f"q.{question}"] = t[key]
        return
    if exc.kind in _FIELD_ERRORS and failure.form not in ("survey-form",):
        field_name, key = _FIELD_ERRORS[exc.kind]
        failure.errors[field_name] = t[key].format(max=max_chars)
        return
    failure.alert = t[_PAGE_ERRORS.get(exc.kind, "err_generic")]


def _posted(
    request: Request, campaign_id: str, lang: Language, posted: Posted, new_token: str | None
) -> Response:
    t = STRINGS[lang]
    response: Response
    if _wants_json(request):
        body: dict[str, Any] = {"done": posted.done, "message": t[f"done_{posted.done}"]}
        if posted.flash:
            body.update(id=posted.flash.id, receipt=posted.flash.receipt)
        response = JSONResponse(body, headers={"Cache-Control": "no-store"})
    else:
        url = _page_url(campaign_id, lang, done=posted.done) + "#" + posted.anchor
        response = RedirectResponse(url, status_code=303)
    if posted.flash:
        _set_cookie(request, response, FLASH_COOKIE, posted.flash.encode(), 300)
    if new_token:
        _set_cookie(request, response, PARTICIPANT_COOKIE, new_token, PARTICIPANT_COOKIE_AGE)
    return response


@router.post("/c/{campaign_id}/comments")
async def post_comment(campaign_id: str, request: Request) -> Response:
    """A comment, or with ``parent_id`` a reply (the form of the comment it answers)."""

    async def comment(service: IntakeService, who: Contributor, form: Form) -> Posted:
        body = _comment_body(form)
        parent_id = body.parent_id
        submitted = await service.submit_comment(
            campaign_id,
            body,
            author=who.participant,
            idempotency_key=idempotency_key(form.get("key")),
            origin=who.origin,
        )
        kind = "reply" if parent_id else "comment"
        flash = Flash(kind, submitted.id, submitted.receipt, body.text.strip())
        return Posted(kind, "my-contributions", flash)

    parent = Form.parse(await request.body()).get("parent_id")
    form_id = f"reply-{parent}" if parent else "comment-form"
    return await _post(request, campaign_id, form_id, ("text",), comment, check=_comment_body)


def _comment_body(form: Form) -> CommentCreate:
    try:
        return CommentCreate(text=form.get("text"), parent_id=form.get("parent_id") or None)
    except ValidationError as exc:
        too_long = any(e["type"] == "string_too_long" for e in exc.errors())
        raise FieldError(
            "text", "err_comment_too_long" if too_long else "err_comment_empty"
        ) from exc


@router.post("/c/{campaign_id}/responses")
async def post_response(campaign_id: str, request: Request) -> Response:
    async def respond(service: IntakeService, who: Contributor, form: Form) -> Posted:
        campaign = await service.require_open(campaign_id)
        answers = survey_answers(campaign.question_list(), form)
        try:
            body = ResponseCreate(answers=answers)
        except ValidationError as exc:  # pragma: no cover - only the survey's own ids are read
            raise FieldError("answers", "err_no_answers") from exc
        done = await service.submit_response(
            campaign_id,
            body,
            author=who.participant,
            idempotency_key=idempotency_key(form.get("key")),
            origin=who.origin,
        )
        return Posted("response", "survey", Flash("response", done.id, done.receipt))

    return await _post(request, campaign_id, "survey-form", (), respond)


@router.post("/c/{campaign_id}/comments/{comment_id}/votes")
async def post_vote(campaign_id: str, comment_id: str, request: Request) -> Response:
    async def vote(service: IntakeService, who: Contributor, form: Form) -> Posted:
        await service.cast_vote(
            comment_id,
            _vote(form),
            voter=who.participant,
            idempotency_key=None,
            origin=who.origin,
        )
        return Posted("vote", f"c-{comment_id}")

    return await _post(request, campaign_id, f"vote-{comment_id}", ("value",), vote, check=_vote)


def _vote(form: Form) -> VoteCreate:
    value = form.get("value")
    if value not in ("1", "-1"):
        raise FieldError("value", "err_vote")
    return VoteCreate(value=1 if value == "1" else -1)


@router.post("/c/{campaign_id}/comments/{comment_id}/flags")
async def post_flag(campaign_id: str, comment_id: str, request: Request) -> Response:
    async def flag(service: IntakeService, who: Contributor, form: Form) -> Posted:
        await service.flag_comment(comment_id, _flag(form), reporter=who.participant)
        return Posted("flag", f"c-{comment_id}")

    fields = ("reason", "detail")
    return await _post(request, campaign_id, f"flag-{comment_id}", fields, flag, check=_flag)


def _flag(form: Form) -> FlagCreate:
    reason = form.get("reason")
    if reason not in FLAG_REASONS:
        raise FieldError("reason", "err_reason")
    detail = form.get("detail").strip()[:1000] or None
    return FlagCreate.model_validate({"reason": reason, "detail": detail})


def _refusal_page(request: Request, lang: Language, exc: Problem) -> Response:
    t = STRINGS[lang]
    seconds = exc.extensions.get("retry_after", 1)
    return _problem_page(
        request,
        lang,
        exc.status,
        "too_many",
        t["err_rate"].format(seconds=seconds),
        headers=exc.headers,
    )
