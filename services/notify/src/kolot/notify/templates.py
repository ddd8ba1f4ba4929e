"""The messages notify sends, in Hebrew, Arabic and English.

Every e-mail has a plain-text part and an HTML part; Hebrew and Arabic HTML is laid out right to
left (``dir="rtl"`` on the document and each block, ``lang`` set), so mail clients align and
order mixed Hebrew/Latin text correctly. Every value put into the HTML is escaped: replies and
statements are written by people.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kolot.notify.models import Language

RTL: frozenset[str] = frozenset({"he", "ar"})


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str


@dataclass(frozen=True, slots=True)
class Item:
    """One message's content before the layout: a heading, paragraphs, and a link."""

    subject: str
    paragraphs: tuple[str, ...]
    link_label: str
    link: str


_COPY: dict[str, dict[Language, dict[str, str]]] = {
    "reply": {
        "he": {
            "subject": "תגובה חדשה להערה שלך",
            "lead": "מישהו הגיב להערה שכתבת בשיתוף הציבור:",
            "link": "לצפייה בדיון",
        },
        "ar": {
            "subject": "رد جديد على تعليقك",
            "lead": "ردّ أحدهم على التعليق الذي كتبته في المشاركة العامة:",
            "link": "عرض النقاش",
        },
        "en": {
            "subject": "A new reply to your comment",
            "lead": "Someone replied to the comment you wrote in the public consultation:",
            "link": "See the discussion",
        },
    },
    "decision": {
        "he": {
            "subject": "החלטה על ההערה שלך",
            "approve": "ההערה שלך פורסמה.",
            "reject": "ההערה שלך לא פורסמה.",
            "reasons": "נימוקים:",
            "link": "לשיתוף הציבור",
        },
        "ar": {
            "subject": "قرار بشأن تعليقك",
            "approve": "تم نشر تعليقك.",
            "reject": "لم يُنشر تعليقك.",
            "reasons": "الأسباب:",
            "link": "إلى المشاركة العامة",
        },
        "en": {
            "subject": "The decision on your comment",
            "approve": "Your comment was published.",
            "reject": "Your comment was not published.",
            "reasons": "Reasons:",
            "link": "Go to the consultation",
        },
    },
    "appeal": {
        "he": {
            "subject": "החלטה בערעור שלך",
            "overturned": "הערעור התקבל: ההחלטה בוטלה.",
            "upheld": "הערעור נדחה: ההחלטה נשארת בתוקף.",
            "reasons": "נימוקים:",
            "link": "לשיתוף הציבור",
        },
        "ar": {
            "subject": "القرار في استئنافك",
            "overturned": "قُبل الاستئناف: أُلغي القرار.",
            "upheld": "رُفض الاستئناف: يبقى القرار ساريًا.",
            "reasons": "الأسباب:",
            "link": "إلى المشاركة العامة",
        },
        "en": {
            "subject": "The decision on your appeal",
            "overturned": "Your appeal was accepted: the decision was reversed.",
            "upheld": "Your appeal was not accepted: the decision stands.",
            "reasons": "Reasons:",
            "link": "Go to the consultation",
        },
    },
    "outcome": {
        "he": {
            "subject": "מה קרה עם מה שאמרת",
            "lead": "השתתפת בשיתוף הציבור. כך החליט המשרד:",
            "link": "לסיכום המלא",
        },
        "ar": {
            "subject": "ماذا حدث لمساهمتك",
            "lead": "شاركت في المشاركة العامة. هذا ما قررته الوزارة:",
            "link": "الملخص الكامل",
        },
        "en": {
            "subject": "What happened to your input",
            "lead": "You took part in the public consultation. This is what the ministry decided:",
            "link": "Read the full outcome",
        },
    },
    "invitation": {
        "he": {
            "subject": "הזמנה להשתתף בשיתוף הציבור",
            "lead": "המשרד מבקש לשמוע את דעתך. ההשתתפות פתוחה לכולם ואורכת דקות ספורות.",
            "link": "להשתתפות",
        },
        "ar": {
            "subject": "دعوة للمشاركة في المشاركة العامة",
            "lead": "تودّ الوزارة سماع رأيك. المشاركة مفتوحة للجميع وتستغرق دقائق معدودة.",
            "link": "للمشاركة",
        },
        "en": {
            "subject": "You are invited to a public consultation",
            "lead": "The ministry would like to hear from you. Open to all; it takes minutes.",
            "link": "Take part",
        },
    },
    "digest": {
        "he": {"subject": "עדכונים משיתוף הציבור"},
        "ar": {"subject": "تحديثات من المشاركة العامة"},
        "en": {"subject": "Updates from the public consultation"},
    },
    "footer": {
        "he": {
            "why": "קיבלת הודעה זו כי ביקשת לקבל עדכונים.",
            "why_invitation": "קיבלת הודעה זו כי הסכמת לקבל הזמנות.",
            "unsubscribe": "הסרה מרשימת התפוצה",
            "preferences": "העדפות (מיידי או סיכום יומי)",
        },
        "ar": {
            "why": "وصلتك هذه الرسالة لأنك طلبت تلقي التحديثات.",
            "why_invitation": "وصلتك هذه الرسالة لأنك وافقت على تلقي الدعوات.",
            "unsubscribe": "إلغاء الاشتراك",
            "preferences": "التفضيلات (فوري أو ملخص يومي)",
        },
        "en": {
            "why": "You receive this because you asked for updates.",
            "why_invitation": "You receive this because you agreed to receive invitations.",
            "unsubscribe": "Unsubscribe",
            "preferences": "Preferences (immediate or a daily digest)",
        },
    },
}


def item(template: str, language: Language, params: Mapping[str, str]) -> Item:
    """The content of one notification or invitation (unknown params are ignored)."""
    copy = _COPY[template][language]
    link = params.get("link", "")
    paragraphs: list[str]
    if template == "reply":
        paragraphs = [copy["lead"], params.get("text", "")]
    elif template == "decision":
        decision = params.get("decision", "approve")
        paragraphs = [copy["reject" if decision == "reject" else "approve"]]
        if params.get("statement"):
            paragraphs += [copy["reasons"], params["statement"]]
    elif template == "appeal":
        outcome = params.get("outcome", "upheld")
        paragraphs = [copy["overturned" if outcome == "overturned" else "upheld"]]
        if params.get("statement"):
            paragraphs += [copy["reasons"], params["statement"]]
    elif template == "outcome":
        paragraphs = [copy["lead"], params.get("summary", "")]
        paragraphs += [d for d in params.get("decisions", "").split("\n") if d]
    else:
        paragraphs = [copy["lead"]]
    return Item(
        subject=copy["subject"],
        paragraphs=tuple(p for p in paragraphs if p),
        link_label=copy["link"],
        link=link,
    )


def _html_block(entry: Item, direction: str) -> str:
    parts = [f'<h2 dir="{direction}">{html.escape(entry.subject)}</h2>']
    parts += [f'<p dir="{direction}">{html.escape(p)}</p>' for p in entry.paragraphs]
    if entry.link:
        parts.append(
            f'<p dir="{direction}"><a href="{html.escape(entry.link, quote=True)}">'
            f"{html.escape(entry.link_label)}</a></p>"
        )
    return "\n".join(parts)


def _text_block(entry: Item) -> str:
    lines = [entry.subject, "", *entry.paragraphs]
    if entry.link:
        lines += ["", f"{entry.link_label}: {entry.link}"]
    return "\n".join(lines)


def render(
    entries: Sequence[Item],
    *,
    language: Language,
    unsubscribe_url: str,
    preferences_url: str | None = None,
    invitation: bool = False,
) -> Rendered:
    """One message: a single item, or a digest of several."""
    assert entries
    direction = "rtl" if language in RTL else "ltr"
    align = "right" if direction == "rtl" else "left"
    footer = _COPY["footer"][language]
    why = footer["why_invitation" if invitation else "why"]
    subject = entries[0].subject if len(entries) == 1 else _COPY["digest"][language]["subject"]
    links = [f"{footer['unsubscribe']}: {unsubscribe_url}"]
    if preferences_url:
        links.append(f"{footer['preferences']}: {preferences_url}")
    text = "\n\n----\n\n".join(_text_block(e) for e in entries)
    text += "\n\n--\n" + why + "\n" + "\n".join(links) + "\n"
    footer_links = [
        f'<a href="{html.escape(unsubscribe_url, quote=True)}">'
        f"{html.escape(footer['unsubscribe'])}</a>"
    ]
    if preferences_url:
        footer_links.append(
            f'<a href="{html.escape(preferences_url, quote=True)}">'
            f"{html.escape(footer['preferences'])}</a>"
        )
    body = "\n<hr>\n".join(_html_block(e, direction) for e in entries)
    document = (
        "<!DOCTYPE html>\n"
        f'<html lang="{language}" dir="{direction}">\n'
        '<head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n"
        f'<body dir="{direction}" style="text-align: {align}; direction: {direction}; '
        'font-family: Arial, sans-serif;">\n'
        f"{body}\n"
        f'<hr>\n<p dir="{direction}" style="font-size: small;">{html.escape(why)}<br>'
        f"{' · '.join(footer_links)}</p>\n"
        "</body>\n</html>\n"
    )
    first = entries[0]
    sms = " ".join([first.subject, *first.paragraphs[:2]])
    if len(sms) > 280:
        sms = sms[:279] + "…"
    if first.link:
        sms += f" {first.link}"
    return Rendered(subject=subject, text=text, html=document, sms=sms)
