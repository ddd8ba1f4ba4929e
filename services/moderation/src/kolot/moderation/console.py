"""The moderators' console: one page (``GET /console``) whose script drives the JSON API.

The page is a shell rendered here in the moderator's language (he, ar or en: ``?lang=``); the
script and stylesheet are package files served under a versioned path, so a browser may keep them
for a year. Everything the console shows comes from the API with the moderator's bearer token,
which the script keeps in the tab's sessionStorage only: the page itself is public and holds no
data. Every string the page shows is in ``STRINGS``; the script receives the table of the page's
language, the rejection reasons and the statements of reasons in a JSON data block (a data block
is not a script, so the Content-Security-Policy needs no inline-script exception).
"""

from __future__ import annotations

import json
from functools import cache
from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from kolot.common.assets import Bundle
from kolot.moderation.pipeline.statements import (
    REJECTION_REASONS,
    approved_statement,
    reason_label,
    rejection_statement,
)

Lang = Literal["he", "ar", "en"]
LANGS: tuple[Lang, ...] = ("he", "ar", "en")
RTL = frozenset({"he", "ar"})

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # the script reads and writes the moderation API of the same origin, nothing else
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

NAMES = ("console.css", "console.js")

STRINGS: dict[str, dict[Lang, str]] = {
    "title": {"he": "מסוף מנחים", "ar": "لوحة المشرفين", "en": "Moderator console"},
    "product": {"he": "קולות", "ar": "أصوات", "en": "Kolot"},
    "skip": {"he": "דילוג לתוכן", "ar": "انتقل إلى المحتوى", "en": "Skip to content"},
    "language": {"he": "שפה", "ar": "اللغة", "en": "Language"},
    "login_heading": {"he": "כניסת צוות", "ar": "دخول الموظفين", "en": "Staff sign-in"},
    "token_label": {"he": "אסימון צוות (JWT)", "ar": "رمز الموظف (JWT)", "en": "Staff token (JWT)"},
    "token_hint": {
        "he": "הדביקו את אסימון הגישה שקיבלתם (בפיתוח: kolot-dev token --role moderator). "
        "הוא נשמר בלשונית זו בלבד ונמחק כשהיא נסגרת.",
        "ar": "الصق رمز الدخول الذي حصلت عليه (في بيئة التطوير: kolot-dev token --role moderator). "
        "يُحفظ في هذا التبويب فقط ويُمحى عند إغلاقه.",
        "en": "Paste the bearer token you were given (in development: kolot-dev token --role "
        "moderator). It is kept in this tab only and forgotten when the tab closes.",
    },
    "sign_in": {"he": "כניסה", "ar": "دخول", "en": "Sign in"},
    "sign_out": {"he": "יציאה", "ar": "خروج", "en": "Sign out"},
    "signed_in_as": {
        "he": "מחובר/ת בתור {subject}",
        "ar": "متصل باسم {subject}",
        "en": "Signed in as {subject}",
    },
    "checking": {
        "he": "בודק את האסימון…",
        "ar": "جارٍ التحقق من الرمز…",
        "en": "Checking the token…",
    },
    "err_empty": {"he": "הדביקו אסימון.", "ar": "الصق رمزًا.", "en": "Paste a token first."},
    "err_invalid": {
        "he": "האסימון אינו תקף (פגום או חתום במפתח אחר). בקשו אסימון חדש.",
        "ar": "الرمز غير صالح (تالف أو موقّع بمفتاح آخر). اطلب رمزًا جديدًا.",
        "en": "This token is not valid (malformed, or signed with another key). Ask for a new one.",
    },
    "err_expired": {
        "he": "תוקף האסימון פג. בקשו אסימון חדש והיכנסו שוב.",
        "ar": "انتهت صلاحية الرمز. اطلب رمزًا جديدًا وادخل من جديد.",
        "en": "This token has expired. Ask for a new one and sign in again.",
    },
    "err_role": {
        "he": "לאסימון אין תפקיד מנחה: המסוף דורש תפקיד moderator (או admin).",
        "ar": "لا يحمل الرمز دور مشرف: تحتاج اللوحة إلى الدور moderator (أو admin).",
        "en": "This token has no moderator role: the console needs moderator (or admin).",
    },
    "err_network": {
        "he": "שירות הניהול לא ענה. נסו שוב.",
        "ar": "لم تستجب خدمة الإشراف. حاول مرة أخرى.",
        "en": "The moderation service did not answer. Try again.",
    },
    "err_generic": {
        "he": "משהו השתבש: {detail}",
        "ar": "حدث خطأ: {detail}",
        "en": "Something went wrong: {detail}",
    },
    "session_ended": {
        "he": "ההפעלה הסתיימה (תוקף האסימון פג או שהוא בוטל). היכנסו שוב.",
        "ar": "انتهت الجلسة (انتهت صلاحية الرمز أو أُلغي). ادخل من جديد.",
        "en": "Your session ended (the token expired or was revoked). Sign in again.",
    },
    "signed_out": {
        "he": "יצאת. האסימון נמחק מלשונית זו.",
        "ar": "خرجت. مُحي الرمز من هذا التبويب.",
        "en": "Signed out. The token was removed from this tab.",
    },
    "sections": {"he": "אזורי המסוף", "ar": "أقسام اللوحة", "en": "Console sections"},
    "tab_queue": {"he": "תור", "ar": "قائمة الانتظار", "en": "Queue"},
    "tab_appeals": {"he": "ערעורים", "ar": "الاعتراضات", "en": "Appeals"},
    "filters": {"he": "סינון", "ar": "تصفية", "en": "Filters"},
    "f_campaign": {"he": "מזהה התייעצות", "ar": "معرّف المشاورة", "en": "Campaign id"},
    "f_language": {"he": "שפת התגובה", "ar": "لغة التعليق", "en": "Comment language"},
    "f_reason": {"he": "סיבה", "ar": "السبب", "en": "Reason"},
    "f_cluster": {
        "he": "מכתב המוני (מזהה אשכול)",
        "ar": "رسالة جماعية (معرّف المجموعة)",
        "en": "Form letter (cluster id)",
    },
    "any": {"he": "הכול", "ar": "الكل", "en": "Any"},
    "apply": {"he": "סינון", "ar": "تطبيق", "en": "Apply"},
    "refresh": {"he": "רענון", "ar": "تحديث", "en": "Refresh"},
    "lang_he": {"he": "עברית", "ar": "العبرية", "en": "Hebrew"},
    "lang_ar": {"he": "ערבית", "ar": "العربية", "en": "Arabic"},
    "lang_en": {"he": "אנגלית", "ar": "الإنجليزية", "en": "English"},
    "lang_und": {"he": "לא ידועה", "ar": "غير محددة", "en": "Undetermined"},
    "queue_heading": {
        "he": "תגובות הממתינות להחלטה",
        "ar": "تعليقات بانتظار القرار",
        "en": "Comments waiting for a decision",
    },
    "queue_empty": {
        "he": "אין תגובות הממתינות למנחה.",
        "ar": "لا تعليقات بانتظار مشرف.",
        "en": "Nothing is waiting for a moderator.",
    },
    "queue_count": {"he": "{n} ממתינות", "ar": "{n} بالانتظار", "en": "{n} waiting"},
    "loading": {"he": "טוען…", "ar": "جارٍ التحميل…", "en": "Loading…"},
    "risk": {"he": "סיכון", "ar": "الخطورة", "en": "Risk"},
    "waiting": {"he": "ממתינה", "ar": "بالانتظار منذ", "en": "Waiting"},
    "channel": {"he": "ערוץ", "ar": "القناة", "en": "Channel"},
    "campaign": {"he": "התייעצות", "ar": "المشاورة", "en": "Campaign"},
    "comment_language": {"he": "שפה", "ar": "اللغة", "en": "Language"},
    "flags": {"he": "דיווחים", "ar": "بلاغات", "en": "Flags"},
    "normalised": {
        "he": "כפי שהכללים קוראים אותה",
        "ar": "كما تقرؤه القواعد",
        "en": "As the rules read it",
    },
    "reasons": {"he": "סיבות וציונים", "ar": "الأسباب والدرجات", "en": "Reasons and scores"},
    "match": {"he": "התאמה: {category}", "ar": "تطابق: {category}", "en": "match: {category}"},
    "redacted": {
        "he": "פרט אישי הוסר: {kind}",
        "ar": "أُزيلت بيانات شخصية: {kind}",
        "en": "personal data removed: {kind}",
    },
    "cluster": {
        "he": "מכתב המוני ({size} עותקים, {pending} ממתינים):",
        "ar": "رسالة جماعية ({size} نسخ، {pending} بالانتظار):",
        "en": "Form letter ({size} copies, {pending} waiting):",
    },
    "approve": {"he": "אישור", "ar": "موافقة", "en": "Approve"},
    "reject": {"he": "דחייה", "ar": "رفض", "en": "Reject"},
    "reject_reason": {"he": "סיבת הדחייה", "ar": "سبب الرفض", "en": "Reason for rejecting"},
    "approve_all": {"he": "אישור כל {n}", "ar": "الموافقة على الكل ({n})", "en": "Approve all {n}"},
    "reject_all": {"he": "דחיית כל {n}", "ar": "رفض الكل ({n})", "en": "Reject all {n}"},
    "confirm_approve_all": {
        "he": "לאשר {n} עותקים של המכתב ההמוני {id}?",
        "ar": "الموافقة على {n} نسخ من الرسالة الجماعية {id}؟",
        "en": "Approve {n} copies of form letter {id}?",
    },
    "confirm_reject_all": {
        "he": "לדחות {n} עותקים של המכתב ההמוני {id} מהסיבה: {reason}?",
        "ar": "رفض {n} نسخ من الرسالة الجماعية {id} بسبب: {reason}؟",
        "en": "Reject {n} copies of form letter {id} for: {reason}?",
    },
    "confirm": {"he": "אישור הפעולה", "ar": "تأكيد", "en": "Confirm"},
    "cancel": {"he": "ביטול", "ar": "إلغاء", "en": "Cancel"},
    "bulk_heading": {
        "he": "פעולה על מכתב המוני",
        "ar": "إجراء على رسالة جماعية",
        "en": "Form letter action",
    },
    "done_approved": {
        "he": "אושרה. נותרו {n}.",
        "ar": "تمت الموافقة. بقي {n}.",
        "en": "Approved. {n} left.",
    },
    "done_rejected": {
        "he": "נדחתה ({reason}). נותרו {n}.",
        "ar": "رُفض ({reason}). بقي {n}.",
        "en": "Rejected ({reason}). {n} left.",
    },
    "bulk_done": {
        "he": "הוחלט על {n}; {c} כבר הוכרעו בידי אחרים.",
        "ar": "تقرّر {n}؛ و{c} سبق أن قرّرها غيرك.",
        "en": "{n} decided; {c} already decided by someone else.",
    },
    "conflict": {
        "he": "מנחה אחר כבר הכריע בתגובה זו.",
        "ar": "سبق أن قرّر مشرف آخر في هذا التعليق.",
        "en": "Another moderator already decided this comment.",
    },
    "gone": {
        "he": "התגובה כבר אינה בתור.",
        "ar": "لم يعد التعليق في القائمة.",
        "en": "This comment is no longer in the queue.",
    },
    "keys_heading": {"he": "דחייה במקש", "ar": "الرفض بمفتاح", "en": "Reject with a key"},
    "help_button": {
        "he": "קיצורי מקלדת (?)",
        "ar": "اختصارات لوحة المفاتيح (?)",
        "en": "Keyboard shortcuts (?)",
    },
    "help_heading": {
        "he": "קיצורי מקלדת",
        "ar": "اختصارات لوحة المفاتيح",
        "en": "Keyboard shortcuts",
    },
    "close": {"he": "סגירה", "ar": "إغلاق", "en": "Close"},
    "key_next": {"he": "התגובה הבאה", "ar": "التعليق التالي", "en": "next comment"},
    "key_prev": {"he": "התגובה הקודמת", "ar": "التعليق السابق", "en": "previous comment"},
    "key_approve": {
        "he": "אישור התגובה המסומנת",
        "ar": "الموافقة على التعليق المحدد",
        "en": "approve the current comment",
    },
    "key_reject": {
        "he": "דחייה מהסיבה שזה מספרה",
        "ar": "الرفض بالسبب الذي يحمل هذا الرقم",
        "en": "reject for the reason with that number",
    },
    "key_help": {"he": "הצגת רשימה זו", "ar": "عرض هذه القائمة", "en": "show this list"},
    "key_close": {"he": "סגירת חלון", "ar": "إغلاق النافذة", "en": "close a dialog"},
    "appeals_heading": {"he": "ערעורים פתוחים", "ar": "اعتراضات مفتوحة", "en": "Open appeals"},
    "appeals_empty": {
        "he": "אין ערעור הממתין לך.",
        "ar": "لا اعتراض بانتظارك.",
        "en": "No appeal is waiting for you.",
    },
    "appeal_of": {
        "he": "ערעור על תגובה {id}",
        "ar": "اعتراض على التعليق {id}",
        "en": "Appeal against comment {id}",
    },
    "filed": {"he": "הוגש", "ar": "قُدّم", "en": "Filed"},
    "statement_label": {
        "he": "הנימוק שיישלח לכותב/ת",
        "ar": "البيان الذي سيصل إلى الكاتب",
        "en": "Statement to the author",
    },
    "uphold": {"he": "השארת ההחלטה", "ar": "تثبيت القرار", "en": "Uphold the decision"},
    "overturn": {
        "he": "ביטול ההחלטה ופרסום",
        "ar": "إلغاء القرار والنشر",
        "en": "Overturn and publish",
    },
    "appeal_upheld": {
        "he": "הערעור נדחה; ההחלטה נשארת.",
        "ar": "رُفض الاعتراض؛ القرار باقٍ.",
        "en": "Appeal decided: the decision stands.",
    },
    "appeal_overturned": {
        "he": "הערעור התקבל; התגובה מתפרסמת.",
        "ar": "قُبل الاعتراض؛ يُنشر التعليق.",
        "en": "Appeal decided: the comment is published.",
    },
    "same_moderator": {
        "he": "את/ה קיבלת את ההחלטה שעליה מערערים: מנחה אחר/ת צריך/ה להכריע בערעור.",
        "ar": "أنت من اتخذ القرار المعترض عليه: يجب أن يقرّر مشرف آخر في الاعتراض.",
        "en": "You took the decision this appeal contests: another moderator must decide it.",
    },
    "appeal_conflict": {
        "he": "הערעור כבר הוכרע.",
        "ar": "سبق البت في الاعتراض.",
        "en": "This appeal was already decided.",
    },
    "statement_required": {
        "he": "כתבו קודם את הנימוק לכותב/ת.",
        "ar": "اكتب البيان إلى الكاتب أولًا.",
        "en": "Write the statement to the author first.",
    },
    "default_upheld": {
        "he": "מנחה נוסף בחן את הערעור שלך. התגובה מפרה את כללי השיח ולכן ההחלטה נשארת בתוקף.",
        "ar": "راجع مشرف آخر اعتراضك. التعليق يخالف قواعد الحوار، لذلك يبقى القرار ساريًا.",
        "en": "Another moderator reviewed your appeal. The comment breaks the discourse rules, "
        "so the decision stands.",
    },
    "default_overturned": {
        "he": "מנחה נוסף בחן את הערעור שלך והחליט לפרסם את התגובה. תודה על הסבלנות.",
        "ar": "راجع مشرف آخر اعتراضك وقرّر نشر التعليق. شكرًا على صبرك.",
        "en": "Another moderator reviewed your appeal and decided to publish your comment. "
        "Thank you for your patience.",
    },
    "alerts_heading": {"he": "התראות על גל חריג", "ar": "تنبيهات الموجات", "en": "Surge alerts"},
    "alert_abuse_surge": {
        "he": "גל של תגובות פוגעניות",
        "ar": "موجة من التعليقات المسيئة",
        "en": "A surge of abusive comments",
    },
    "alert_flag_surge": {"he": "גל של דיווחים", "ar": "موجة من البلاغات", "en": "A surge of flags"},
    "alert_submission_surge": {
        "he": "גל של תגובות",
        "ar": "موجة من التعليقات",
        "en": "A surge of submissions",
    },
    "alert_line": {
        "he": "{kind} בהתייעצות {campaign} (חומרה: {severity}), מאז {time}",
        "ar": "{kind} في المشاورة {campaign} (الخطورة: {severity})، منذ {time}",
        "en": "{kind} in campaign {campaign} (severity: {severity}), since {time}",
    },
    "severity_info": {"he": "מידע", "ar": "معلومة", "en": "info"},
    "severity_warning": {"he": "אזהרה", "ar": "تحذير", "en": "warning"},
    "severity_critical": {"he": "חמורה", "ar": "حرجة", "en": "critical"},
    "show_queue": {"he": "הצגת התור", "ar": "عرض القائمة", "en": "Show the queue"},
    "channel_web": {"he": "אתר", "ar": "الموقع", "en": "web"},
    "channel_mobile": {"he": "נייד", "ar": "الهاتف المحمول", "en": "mobile"},
    "channel_sms": {"he": "SMS", "ar": "رسالة نصية", "en": "SMS"},
    "channel_whatsapp": {"he": "WhatsApp", "ar": "واتساب", "en": "WhatsApp"},
    "channel_meeting": {"he": "מפגש פנים אל פנים", "ar": "لقاء وجاهي", "en": "in-person meeting"},
    "channel_email": {"he": 'דוא"ל', "ar": "البريد الإلكتروني", "en": "e-mail"},
    "channel_api": {"he": "API", "ar": "API", "en": "API"},
    "score_rules": {"he": "כללים", "ar": "القواعد", "en": "rules"},
    "score_learned": {"he": "מודל", "ar": "النموذج", "en": "model"},
    "score_burst": {"he": "קצב חריג", "ar": "وتيرة غير عادية", "en": "burst"},
    "reason_pre_moderation": {
        "he": "התייעצות בבקרה מוקדמת",
        "ar": "مشاورة بإشراف مسبق",
        "en": "pre-moderated campaign",
    },
    "reason_pii_redacted": {
        "he": "פרטים אישיים הוסרו",
        "ar": "أُزيلت بيانات شخصية",
        "en": "personal data removed",
    },
    "reason_duplicate": {
        "he": "עותק של מכתב המוני",
        "ar": "نسخة من رسالة جماعية",
        "en": "copy of a form letter",
    },
    "reason_flags": {
        "he": "הוסתרה בעקבות דיווחים",
        "ar": "أُخفي بسبب البلاغات",
        "en": "hidden by flags",
    },
}
"""Every string the console shows, in he, ar and en (the script formats ``{name}`` fields)."""

QUEUE_REASONS = ("pre_moderation", "threat", "hate", "abuse", "spam", "pii_redacted", "duplicate")
"""The reasons the queue can be narrowed to (the automatic decision's reasons)."""


@cache
def assets() -> Bundle:
    return Bundle.load("kolot.moderation", NAMES, prefix="/console/assets", owner="the console")


def console_data(lang: Lang) -> dict[str, object]:
    """What the script needs: the page's strings, and the reasons with their statements."""
    strings = {key: texts[lang] for key, texts in STRINGS.items()}
    for reason in REJECTION_REASONS:
        strings[f"reason_{reason}"] = reason_label(reason, language=lang)
    return {
        "lang": lang,
        "strings": strings,
        "reasons": [
            {
                "key": reason,
                "label": reason_label(reason, language=lang),
                # the author reads the statement in the language of their comment
                "statements": {
                    language: rejection_statement([reason], language=language) for language in LANGS
                },
            }
            for reason in REJECTION_REASONS
        ],
        "approved": {language: approved_statement(language=language) for language in LANGS},
        "queue_reasons": list(QUEUE_REASONS),
    }


def _t(lang: Lang, key: str) -> str:
    return escape(STRINGS[key][lang])


def render(lang: Lang) -> str:
    """The page's shell; the script fills it in once the moderator has signed in."""
    files = assets()
    data = json.dumps(console_data(lang), ensure_ascii=False).replace("</", "<\\/")
    switch = "".join(
        f'<li><a href="?lang={code}" lang="{code}" hreflang="{code}" data-lang="{code}"'
        + (' aria-current="true"' if code == lang else "")
        + f">{escape(STRINGS[f'lang_{code}'][code])}</a></li>"
        for code in LANGS
    )

    def t(key: str) -> str:
        return _t(lang, key)

    return f"""<!doctype html>
<html lang="{lang}" dir="{"rtl" if lang in RTL else "ltr"}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>{t("title")} · {t("product")}</title>
<link rel="stylesheet" href="{files.url("console.css")}">
<script type="application/json" id="console-data">{data}</script>
<script src="{files.url("console.js")}" defer></script>
</head>
<body>
<a class="skip" href="#main">{t("skip")}</a>
<header class="top">
  <p class="brand"><span>{t("product")}</span> · {t("title")}</p>
  <nav aria-label="{t("language")}"><ul class="langs">{switch}</ul></nav>
  <div class="who"><span id="who"></span>
    <button type="button" id="logout" hidden>{t("sign_out")}</button></div>
</header>
<section id="alerts" class="alerts" aria-labelledby="alerts-heading" hidden>
  <h2 id="alerts-heading">{t("alerts_heading")}</h2>
  <ul id="alert-list" aria-live="polite"></ul>
</section>
<main id="main" tabindex="-1">
<h1>{t("title")}</h1>
<section id="login-view" aria-labelledby="login-heading">
  <h2 id="login-heading">{t("login_heading")}</h2>
  <form id="login" novalidate>
    <label for="token">{t("token_label")}</label>
    <textarea id="token" name="token" rows="4" autocomplete="off" spellcheck="false"
      dir="ltr" aria-describedby="token-hint login-status"></textarea>
    <p id="token-hint" class="hint">{t("token_hint")}</p>
    <button type="submit">{t("sign_in")}</button>
    <p id="login-status" class="status" role="status" aria-live="polite"></p>
  </form>
</section>
<div id="app-view" hidden>
  <nav aria-label="{t("sections")}" class="tabs">
    <button type="button" id="tab-queue" data-tab="queue"
      aria-pressed="true">{t("tab_queue")}</button>
    <button type="button" id="tab-appeals" data-tab="appeals"
      aria-pressed="false">{t("tab_appeals")}</button>
    <button type="button" id="help-open" class="quiet">{t("help_button")}</button>
  </nav>
  <p id="status" class="status" role="status" aria-live="polite"></p>
  <section id="queue-panel" aria-labelledby="queue-heading">
    <h2 id="queue-heading">{t("queue_heading")} <span id="queue-count"></span></h2>
    <details class="filters">
      <summary>{t("filters")}</summary>
      <form id="filters">
        <label for="f-campaign">{t("f_campaign")}</label>
        <input id="f-campaign" name="campaign_id" dir="ltr" autocomplete="off">
        <label for="f-language">{t("f_language")}</label>
        <select id="f-language" name="language"></select>
        <label for="f-reason">{t("f_reason")}</label>
        <select id="f-reason" name="reason"></select>
        <label for="f-cluster">{t("f_cluster")}</label>
        <input id="f-cluster" name="cluster_id" dir="ltr" autocomplete="off">
        <button type="submit">{t("apply")}</button>
      </form>
    </details>
    <div class="keys" id="reason-keys">
      <h3>{t("keys_heading")}</h3>
      <ol id="reason-key-list"></ol>
    </div>
    <button type="button" id="refresh" class="quiet">{t("refresh")}</button>
    <ol id="queue" class="queue"></ol>
  </section>
  <section id="appeals-panel" aria-labelledby="appeals-heading" hidden>
    <h2 id="appeals-heading">{t("appeals_heading")}</h2>
    <ol id="appeals" class="queue"></ol>
  </section>
</div>
</main>
<dialog id="help" aria-labelledby="help-heading">
  <h2 id="help-heading">{t("help_heading")}</h2>
  <dl class="shortcuts">
    <dt><kbd>j</kbd> / <kbd>↓</kbd></dt><dd>{t("key_next")}</dd>
    <dt><kbd>k</kbd> / <kbd>↑</kbd></dt><dd>{t("key_prev")}</dd>
    <dt><kbd>a</kbd></dt><dd>{t("key_approve")}</dd>
    <dt><kbd>1</kbd>–<kbd>9</kbd></dt><dd>{t("key_reject")}</dd>
    <dt><kbd>?</kbd></dt><dd>{t("key_help")}</dd>
    <dt><kbd>Esc</kbd></dt><dd>{t("key_close")}</dd>
  </dl>
  <form method="dialog"><button type="submit">{t("close")}</button></form>
</dialog>
<dialog id="confirm" aria-labelledby="confirm-heading" aria-describedby="confirm-text">
  <h2 id="confirm-heading">{t("bulk_heading")}</h2>
  <p id="confirm-text"></p>
  <form method="dialog" class="row">
    <button type="submit" value="yes" id="confirm-yes">{t("confirm")}</button>
    <button type="submit" value="no" class="quiet">{t("cancel")}</button>
  </form>
</dialog>
</body>
</html>
"""


router = APIRouter(tags=["moderator console"], include_in_schema=False)


@router.get("/console", response_class=HTMLResponse)
async def console(lang: Annotated[str, Query(max_length=8)] = "he") -> HTMLResponse:
    chosen: Lang = next((code for code in LANGS if code == lang), "he")
    return HTMLResponse(
        render(chosen),
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache", "Content-Language": chosen},
    )


@router.get("/console/assets/{version}/{name}")
async def console_asset(
    version: Annotated[str, Path(max_length=64)], name: Annotated[str, Path(max_length=64)]
) -> Response:
    # a page of an older release (a rolling upgrade) gets the current file, not to be kept
    return assets().response(version, name)
