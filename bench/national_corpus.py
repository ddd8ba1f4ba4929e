"""What a national consultation's participants write: five campaigns, he/ar/en, form letters,
abuse. The texts come from moderation's labelled evaluation set (tests/unit/moderation/eval_set.py,
the comments moderation is judged on), combined and lightly edited, so that the bench's mix is one
moderation is known to handle, and each text keeps its label (civil, critical, insult...).
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.moderation.eval_set import ABUSIVE, EVAL_SET

CAMPAIGNS = [
    {
        "title": {"he": "תחבורה ציבורית בנגב", "ar": "المواصلات العامة في النقب", "en": "Buses"},
        "purpose": {"he": "לשמוע את הנוסעים לפני שינוי הקווים", "en": "Hear riders first"},
        "use_of_input": {"he": "המשרד יפרסם מה שינה", "en": "A summary is published"},
    },
    {
        "title": {"he": "רצועת החוף", "ar": "الشريط الساحلي", "en": "The coastal strip"},
        "purpose": {"he": "תוכנית המתאר לחוף", "en": "The coastal master plan"},
        "use_of_input": {"he": "הוועדה תקרא כל תגובה", "en": "The committee reads every comment"},
    },
    {
        "title": {"he": "שעות המרפאות", "ar": "ساعات العيادات", "en": "Clinic hours"},
        "purpose": {"he": "שעות פעילות המרפאות בקהילה", "en": "Community clinic hours"},
        "use_of_input": {"he": "משרד הבריאות יפרסם החלטה", "en": "The ministry publishes"},
    },
    {
        "title": {"he": "תקציב החינוך", "ar": "ميزانية التعليم", "en": "Education budget"},
        "purpose": {"he": "סדרי העדיפויות בתקציב", "en": "Budget priorities"},
        "use_of_input": {"he": "הממצאים יוצגו לוועדה", "en": "Findings go to the committee"},
    },
    {
        "title": {"he": "משק המים", "ar": "قطاع المياه", "en": "Water"},
        "purpose": {"he": "תעריפי המים והחיסכון", "en": "Water tariffs and saving"},
        "use_of_input": {"he": "רשות המים תפרסם סיכום", "en": "A summary is published"},
    },
]
CAMPAIGN_WEIGHTS = [0.35, 0.25, 0.18, 0.14, 0.08]
"""A national consultation is lopsided: one hot topic draws most of the crowd."""

LANGUAGE_WEIGHTS = {"he": 0.50, "ar": 0.25, "en": 0.15, "mixed": 0.07, "translit": 0.03}

# One organised letter per campaign, sent by thousands with small edits (FCC 2017, EU 2018).
_FORM_LETTERS = [
    (
        "he",
        "{greeting} אני מתנגד לביטול קווי הלילה בנגב. אלפי עובדי משמרות, סטודנטים וחיילים "
        "תלויים בהם, ואין להם דרך אחרת לחזור הביתה. אני דורש להשאיר את הקווים ולהגדיל את "
        "התדירות. {closing}",
    ),
    (
        "en",
        "{greeting} I oppose the plan to build on the coastal strip. The beach belongs to the "
        "public, the dunes shelter rare species, and the city already lacks open space. Please "
        "reject the plan and protect the coast for our children. {closing}",
    ),
    (
        "ar",
        "{greeting} نطالب بفتح العيادات في القرى العربية حتى ساعات المساء. العمال يعودون متأخرين "
        "ولا يجدون طبيبا، والمرضى المسنون يضطرون للسفر إلى المدينة. {closing}",
    ),
    (
        "he",
        "{greeting} אנו הורי התלמידים דורשים להקטין את מספר התלמידים בכיתה ולהוסיף סייעות. כיתות "
        "של ארבעים ילדים אינן מאפשרות למידה, והמורים נשחקים. {closing}",
    ),
    (
        "en",
        "{greeting} Water tariffs for large families are unfair: we pay the highest block for "
        "ordinary use. Please price water per person, not per household. {closing}",
    ),
]
_GREETINGS = {
    "he": ("שלום רב,", "לכבוד הוועדה,", "שלום,", "לחברי הוועדה,"),
    "ar": ("تحية طيبة،", "إلى اللجنة المحترمة،", "مرحبا،", "السادة أعضاء اللجنة،"),
    "en": ("Dear committee,", "To the committee:", "Hello,", "Dear members,"),
}
_CLOSINGS = {
    "he": ("תודה.", "בברכה", "בכבוד רב,", "תודה רבה!"),
    "ar": ("شكرا.", "مع التحية", "باحترام،", "شكرا جزيلا!"),
    "en": ("Thank you.", "Regards", "Sincerely,", "Thanks!"),
}
_NAMES = ("דנה", "יוסי", "محمد", "سارة", "Noa", "Ahmad", "מיכל", "خالد", "Tamar", "Omar")
_PERSONAL = {
    "he": ("גם אני נוסעת בקו הזה כל יום.", "זה נוגע למשפחה שלי ישירות.", "אני גר בשכונה."),
    "ar": ("أنا أيضا أعاني من هذا كل يوم.", "هذا يخص عائلتي مباشرة.", "أسكن في الحي."),
    "en": ("I live right there.", "This affects my family directly.", "I ride it every day."),
}


@dataclass(frozen=True, slots=True)
class Comment:
    text: str
    kind: str
    """civil, critical, form, or an abusive label (insult, threat, hate)."""
    language: str


class Corpus:
    """Draws comments: ``form_share`` form letters, ``abusive_share`` abuse, the rest ordinary
    comments of one to three civil or critical sentences in one language (with a PII share:
    the eval set has phone numbers and e-mail addresses in it)."""

    def __init__(self, *, form_share: float = 0.30, abusive_share: float = 0.05) -> None:
        self.form_share = form_share
        self.abusive_share = abusive_share
        self.acceptable: dict[str, list[tuple[str, str]]] = {}
        self.abusive: list[tuple[str, str, str]] = []
        for language, label, text in EVAL_SET:
            if label in ABUSIVE:
                self.abusive.append((language, label, text))
            elif label in ("civil", "critical"):
                self.acceptable.setdefault(language, []).append((label, text))
        self.languages = list(LANGUAGE_WEIGHTS)
        self.language_weights = list(LANGUAGE_WEIGHTS.values())

    def draw(self, rng: random.Random, campaign: int) -> Comment:
        roll = rng.random()
        if roll < self.form_share:
            return self._form_letter(rng, campaign)
        if roll < self.form_share + self.abusive_share:
            language, label, text = rng.choice(self.abusive)
            return Comment(text, label, language)
        language = rng.choices(self.languages, self.language_weights)[0]
        pool = self.acceptable[language]
        picked = [rng.choice(pool) for _ in range(rng.choice((1, 1, 2, 2, 3)))]
        kind = "critical" if any(label == "critical" for label, _ in picked) else "civil"
        text = " ".join(t if t[-1] in ".!?؟" else f"{t}." for _, t in picked)
        return Comment(text, kind, language)

    def _form_letter(self, rng: random.Random, campaign: int) -> Comment:
        language, template = _FORM_LETTERS[campaign % len(_FORM_LETTERS)]
        text = template.format(
            greeting=rng.choice(_GREETINGS[language]), closing=rng.choice(_CLOSINGS[language])
        )
        edit = rng.random()
        if edit < 0.3:
            text = f"{text} {rng.choice(_NAMES)}"
        elif edit < 0.5:
            text = f"{rng.choice(_PERSONAL[language])} {text}"
        elif edit < 0.6:
            # a typo: one letter doubled
            at = rng.randrange(10, len(text) - 10)
            text = text[:at] + text[at] + text[at:]
        return Comment(text, "form", language)
