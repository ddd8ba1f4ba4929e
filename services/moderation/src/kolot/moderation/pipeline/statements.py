"""Statements of reasons: what the author of a comment reads about a decision, in their language.

Written for people: what happened, why, and what they can do next. Hebrew and Arabic comments get
a statement in their language; every other comment gets English.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

StatementLanguage = Literal["he", "ar", "en"]

_REASON_LABELS: dict[str, dict[StatementLanguage, str]] = {
    "threat": {
        "he": "איום באלימות",
        "ar": "تهديد بالعنف",
        "en": "a threat of violence",
    },
    "hate": {
        "he": "ביטוי גזעני או כינוי גנאי לקבוצה",
        "ar": "عبارة عنصرية أو إهانة لجماعة",
        "en": "a slur or hateful language against a group",
    },
    "abuse": {
        "he": "עלבון או שפה גסה",
        "ar": "إهانة أو لغة بذيئة",
        "en": "an insult or vulgar language",
    },
    "spam": {
        "he": "פרסומת או הודעת זבל",
        "ar": "إعلان أو رسالة مزعجة",
        "en": "advertising or spam",
    },
    "personal_data": {
        "he": "פרסום פרטים אישיים של אדם אחר",
        "ar": "نشر بيانات شخصية لشخص آخر",
        "en": "someone else's personal details",
    },
    "off_topic": {
        "he": "תוכן שאינו עוסק בנושא ההתייעצות",
        "ar": "محتوى لا يتعلق بموضوع المشاورة",
        "en": "content that is not about the consultation's subject",
    },
}

REJECTION_REASONS: tuple[str, ...] = (
    "threat",
    "hate",
    "abuse",
    "spam",
    "personal_data",
    "off_topic",
)
"""The reasons a moderator rejects a comment for, in a fixed order (the console numbers them).
Disagreement, however harsh, is none of them."""

_PII_REMOVED: dict[StatementLanguage, str] = {
    "he": 'התגובה שלך פורסמה. הסרנו ממנה פרטים אישיים (כמו טלפון, דוא"ל או כתובת) כדי להגן עליך.',
    "ar": "نُشر تعليقك. أزلنا منه بيانات شخصية (مثل الهاتف أو البريد أو العنوان) لحمايتك.",
    "en": (
        "Your comment was published. We removed personal details from it (such as a phone "
        "number, an e-mail or a street address) to protect you."
    ),
}

_REJECTED: dict[StatementLanguage, str] = {
    "he": (
        "התגובה שלך לא פורסמה כי היא מפרה את כללי השיח של ההתייעצות: {reasons}. "
        "ביקורת, גם חריפה, מתקבלת בברכה. אפשר לנסח את התגובה מחדש ולשלוח אותה שוב, "
        "או לערער על ההחלטה."
    ),
    "ar": (
        "لم يُنشر تعليقك لأنه يخالف قواعد الحوار في هذه المشاورة: {reasons}. "
        "النقد مرحّب به حتى لو كان حادًا. يمكنك إعادة صياغة تعليقك وإرساله من جديد، "
        "أو الاعتراض على هذا القرار."
    ),
    "en": (
        "Your comment was not published because it breaks the consultation's discourse rules: "
        "{reasons}. Criticism, even harsh criticism, is welcome. You may rephrase your comment "
        "and submit it again, or appeal this decision."
    ),
}

_IN_REVIEW: dict[StatementLanguage, str] = {
    "he": "בהתייעצות זו כל תגובה נבדקת בידי מנחה לפני פרסומה. התגובה שלך תפורסם לאחר הבדיקה.",
    "ar": "في هذه المشاورة يراجع مشرفٌ كل تعليق قبل نشره. سيُنشر تعليقك بعد المراجعة.",
    "en": (
        "In this consultation a moderator reads every comment before it is published. "
        "Your comment will appear once it has been reviewed."
    ),
}

_SEPARATOR: dict[StatementLanguage, str] = {"he": "; ", "ar": "؛ ", "en": "; "}


def statement_language(language: str) -> StatementLanguage:
    return "he" if language == "he" else "ar" if language == "ar" else "en"


def rejection_statement(reasons: Sequence[str], *, language: str) -> str:
    lang = statement_language(language)
    labels = [_REASON_LABELS[r][lang] for r in reasons if r in _REASON_LABELS]
    return _REJECTED[lang].format(reasons=_SEPARATOR[lang].join(labels))


def published_statement(reasons: Sequence[str], *, language: str) -> str | None:
    """What the author of a published comment is told: only that personal data was removed."""
    return _PII_REMOVED[statement_language(language)] if "pii_redacted" in reasons else None


_IN_CLUSTER: dict[StatementLanguage, str] = {
    "he": (
        "התגובה שלך זהה או כמעט זהה לתגובות של משתתפים אחרים, ולכן היא מוצגת פעם אחת, "
        "יחד עם מספר האנשים ששלחו אותה. כל תגובה נספרת."
    ),
    "ar": (
        "تعليقك مطابق أو شبه مطابق لتعليقات مشاركين آخرين، لذلك يُعرض مرة واحدة مع عدد "
        "الأشخاص الذين أرسلوه. كل تعليق يُحتسب."
    ),
    "en": (
        "Your comment is the same as, or nearly the same as, other participants' comments, so it "
        "is shown once, with the number of people who sent it. Every comment is counted."
    ),
}


def cluster_statement(*, language: str) -> str:
    """What the sender of a form letter's copy reads: published once, counted with the others."""
    return _IN_CLUSTER[statement_language(language)]


def review_statement(*, language: str) -> str:
    return _IN_REVIEW[statement_language(language)]


_APPROVED_BY_MODERATOR: dict[StatementLanguage, str] = {
    "he": "מנחה קרא את התגובה שלך והיא פורסמה. תודה על ההשתתפות.",
    "ar": "قرأ مشرفٌ تعليقك وقد نُشر. شكرًا على مشاركتك.",
    "en": "A moderator read your comment and published it. Thank you for taking part.",
}


def reason_label(reason: str, *, language: str) -> str:
    """A rejection reason as people read it (the reason itself when it has no label)."""
    labels = _REASON_LABELS.get(reason)
    return labels[statement_language(language)] if labels else reason


def approved_statement(*, language: str) -> str:
    """What the author of a comment a moderator published reads."""
    return _APPROVED_BY_MODERATOR[statement_language(language)]
