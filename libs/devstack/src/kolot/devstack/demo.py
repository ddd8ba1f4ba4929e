"""A demo consultation for ``kolot-dev up --demo``, seeded through the public HTTP contract v1.

It goes through intake exactly as a client would: an admin creates and opens a campaign in Hebrew,
Arabic and English, three participants register (from different sources, so the metrics funnel has
something to show) and comment, each in their own language. A failed call is reported and the
seeding moves on or stops; it never takes the stack down.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx

__all__ = ["seed"]

CAMPAIGN: Final[Mapping[str, Any]] = {
    "title": {
        "he": "שטחים ירוקים בשכונות",
        "ar": "المساحات الخضراء في الأحياء",
        "en": "Green spaces in our neighbourhoods",
    },
    "description": {
        "he": "המשרד מבקש לשמוע איך לתכנן גינות ציבוריות, הצללה ושבילי הליכה בשכונות.",
        "ar": "تودّ الوزارة أن تسمع آراءكم في تخطيط الحدائق العامة والتظليل وممرات المشي.",
        "en": "The ministry asks how public gardens, shade and footpaths should be planned.",
    },
    "use_of_input": {
        "he": "הוועדה תדון בכל נושא שעלה ותפרסם מה שינתה בעקבותיו.",
        "ar": "ستناقش اللجنة كل موضوع أُثير وتنشر ما غيّرته بناءً عليه.",
        "en": "The committee will discuss every issue raised and publish what it changed.",
    },
    "purpose": {
        "he": "התגובות יסוכמו ויוצגו לוועדת התכנון לפני אישור התוכנית.",
        "ar": "ستُلخَّص الردود وتُعرض على لجنة التخطيط قبل إقرار الخطة.",
        "en": "Responses are summarised for the planning committee before the plan is approved.",
    },
    "moderation_mode": "auto",
}

# (source of the participant, language, comment)
PARTICIPANTS: Final = (
    ("facebook", "he", "חשוב להוסיף עצים לאורך המדרכות כדי שיהיה צל בקיץ."),
    ("whatsapp", "ar", "نقترح إضافة مقاعد وإنارة في الحديقة حتى يستطيع كبار السن استخدامها مساءً."),
    ("web", "en", "Please keep the footpaths wide enough for wheelchairs and prams."),
)


class _StepFailed(Exception):
    pass


def seed(
    base_urls: Mapping[str, str],
    admin_token: str,
    *,
    echo: Callable[[str], None] = print,
    transport: httpx.BaseTransport | None = None,
) -> str | None:
    """Seed the demo consultation; returns its campaign id, or None if it could not be created.

    ``base_urls`` maps service names to their base URLs (only ``intake`` is needed);
    ``admin_token`` is a staff token with the admin role.
    """
    intake = base_urls["intake"].rstrip("/")
    with httpx.Client(base_url=intake, timeout=10.0, trust_env=False, transport=transport) as http:
        try:
            campaign = _call(
                http,
                "create the demo campaign",
                "POST",
                "/v1/campaigns",
                token=admin_token,
                json=dict(CAMPAIGN),
            )
            campaign_id = _field(campaign, "id", step="create the demo campaign")
            echo(f"demo: created campaign {campaign_id}")
            _call(
                http,
                "open the demo campaign",
                "POST",
                f"/v1/campaigns/{campaign_id}/open",
                token=admin_token,
            )
            echo(f"demo: opened campaign {campaign_id}")
        except _StepFailed as exc:
            echo(f"demo: {exc}; no demo data, the stack keeps running")
            return None

        posted = 0
        for number, (source, language, text) in enumerate(PARTICIPANTS, start=1):
            try:
                _call(
                    http,
                    f"record a visit from {source}",
                    "POST",
                    f"/v1/campaigns/{campaign_id}/visits",
                    json={"source": source},
                )
                participant = _call(
                    http,
                    f"register participant {number}",
                    "POST",
                    "/v1/participants",
                    json={"source": source},
                )
                token = _field(participant, "token", step=f"register participant {number}")
                echo(f"demo: registered participant {number} (from {source})")
                comment = _call(
                    http,
                    f"post the {language} comment",
                    "POST",
                    f"/v1/campaigns/{campaign_id}/comments",
                    token=token,
                    json={"text": text},
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
            except _StepFailed as exc:
                echo(f"demo: {exc}; going on with the next participant")
                continue
            posted += 1
            status = comment.get("status", "?")
            echo(f"demo: posted the {language} comment {comment.get('id', '?')} ({status})")

        echo(
            f"demo: done, {posted} of {len(PARTICIPANTS)} comments posted; published comments: "
            f"GET {intake}/v1/campaigns/{campaign_id}/comments"
        )
        return campaign_id


def _call(
    http: httpx.Client,
    step: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    json: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    url = f"{str(http.base_url).rstrip('/')}{path}"
    try:
        response = http.request(method, path, json=json, headers=all_headers)
    except httpx.HTTPError as exc:
        raise _StepFailed(f"could not {step}: {method} {url} failed ({exc})") from exc
    if not response.is_success:
        raise _StepFailed(
            f"could not {step}: {method} {url} answered "
            f"{response.status_code}: {_excerpt(response)}"
        )
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


def _field(body: Mapping[str, Any], name: str, *, step: str) -> str:
    value = body.get(name)
    if not value:
        raise _StepFailed(f"could not {step}: the answer has no {name!r} ({dict(body)})")
    return str(value)


def _excerpt(response: httpx.Response, limit: int = 300) -> str:
    text = response.text.strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."
