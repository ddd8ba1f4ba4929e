"""The first rule set and the decision: civil text passes, abuse and threats do not."""

from __future__ import annotations

import pytest

from kolot.moderation.pipeline import PRE_MODERATION, check_rules, decide, matching_key


def categories(text: str) -> set[str]:
    return {hit.category for hit in check_rules(matching_key(text))}


@pytest.mark.parametrize(
    "text",
    [
        "Kill the project",
        "this policy kills small businesses",
        "the minister is incompetent and this plan is a disgrace",
        "The government failed us; this reform will kill jobs and should be killed in committee",
        "You are dead wrong about the budget.",
        "Scunthorpe council's assessment of the cocktail tax",
        "השר לא מוכשר והתוכנית הזאת היא בושה וחרפה",
        "הממשלה הזאת הרסה את מערכת הבריאות, צריך להרוג את החוק הזה בוועדה",
        "אם אתה מת בלי צוואה, הרכוש עובר ליורשים",
        "דמי מזונות לילדים צריכים לעלות",
        "תוכנית הזנה לילדים בבתי הספר",
        "הכלב של השכנים נובח כל הלילה",
        "الوزير فاشل وهذه الخطة عار على الحكومة",
        "الحمار يعمل في المزرعة",
        "فخراً بهذا المشروع",
        "سنطعن في هذا القرار أمام المحكمة",
    ],
)
def test_civil_text_and_harsh_criticism_pass(text: str) -> None:
    assert check_rules(matching_key(text)) == ()
    assert decide(text, mode="auto").decision == "approve"


@pytest.mark.parametrize(
    "text",
    [
        "I will kill you",
        "I'll fucking kill you!",
        "I’m going to kill you",
        "we are gonna burn your house",
        "I know where you live",
        "he should be shot",
        "you're dead.",
        "death to arabs",
        "אני ארצח אותך",
        "אֲנִי אֶרְצַח אוֹתְךָ",
        "ואני אהרוג אותכם",
        "אתה מת!",
        "אני יודע איפה אתה גר",
        "מוות לערבים",
        "צריך לירות בו",
        "سأقتلك",
        "سَأَقْتُلُـــكَ",
        "راح اقتلك",
        "الموت لليهود",
        "أعرف أين تسكن",
        "يجب قتله",
    ],
)
def test_threats_are_caught_in_every_language(text: str) -> None:
    assert "threat" in categories(text)
    assert decide(text, mode="auto").decision == "reject"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("you are a fucking moron", "abuse"),
        ("what a piece of shit", "abuse"),
        ("dirty arabs go home", "hate"),
        ("בן זונה", "abuse"),
        ("והמניאק הזה", "abuse"),  # prefix letters
        ("השר המטומטם", "abuse"),
        ("השר המְטֻמְטָם", "abuse"),  # niqqud, defective spelling
        ("יא זבל", "abuse"),
        ("ערבושים", "hate"),
        ("ابن الكلب", "abuse"),
        ("يا حمار", "abuse"),
        ("والحقير", "abuse"),  # conjunction and article
        ("شرموطة", "abuse"),
        ("أحفاد القردة", "hate"),
    ],
)
def test_lexicon_words_match_with_prefixes_and_marks(text: str, category: str) -> None:
    assert category in categories(text)


def test_lexicon_words_do_not_match_inside_other_words() -> None:
    assert categories("assassinate shitake fuckingham") == set()  # whole tokens only
    assert categories("cocktails and bitcoin") == set()


def test_hits_name_the_rule_and_what_matched() -> None:
    hits = check_rules(matching_key("I will kill you, moron"))
    assert [(h.rule, h.category, h.language) for h in hits] == [
        ("threat.en", "threat", "en"),
        ("lexicon.en.abuse", "abuse", "en"),
    ]
    assert hits[1].match == "moron"


# --- decide ------------------------------------------------------------------------------------


def test_decide_approves_civil_text_with_its_redacted_text_and_language() -> None:
    result = decide("התוכנית גרועה. תתקשרו אליי 050-1234567", mode="auto")
    assert result.decision == "approve"
    assert result.reasons == ("pii_redacted",)
    assert result.statement is not None
    assert "פרטים אישיים" in result.statement  # the author learns why the text changed
    assert result.scores == {"rules": 0.0}
    assert result.language == "he"
    assert result.redacted_text == "התוכנית גרועה. תתקשרו אליי [phone]"
    assert result.redactions == ("phone",)


def test_decide_rejects_with_reasons_most_severe_first() -> None:
    result = decide("I will kill you, you fucking moron", mode="auto")
    assert result.decision == "reject"
    assert result.reasons == ("threat", "abuse")
    assert result.scores == {"rules": 1.0}
    assert result.statement is not None
    assert "threat of violence" in result.statement
    assert "insult or vulgar language" in result.statement


@pytest.mark.parametrize(
    ("text", "language", "words"),
    [
        ("אני ארצח אותך", "he", "איום באלימות"),
        ("سأقتلك", "ar", "تهديد بالعنف"),
        ("I will kill you", "en", "a threat of violence"),
        # mostly another script: the statement is in English
        ("Слушай внимательно: I will kill you", "und", "a threat of violence"),
    ],
)
def test_statement_of_reasons_is_in_the_language_of_the_comment(
    text: str, language: str, words: str
) -> None:
    result = decide(text, mode="auto")
    assert result.decision == "reject"
    assert result.statement is not None
    assert words in result.statement
    assert result.language == language
    if language in ("he", "ar"):
        assert "Your comment" not in result.statement


def test_pre_moderation_sends_civil_text_to_review() -> None:
    result = decide("هذه الخطة لن تنجح", mode="pre")
    assert result.decision == "review"
    assert result.reasons == (PRE_MODERATION,)
    assert result.statement is not None
    assert "مشرف" in result.statement  # the author is told a moderator will read it


def test_pre_moderation_still_rejects_what_breaks_a_rule() -> None:
    assert decide("אני ארצח אותך", mode="pre").decision == "reject"


def test_post_moderation_publishes_civil_text_at_once() -> None:
    assert decide("Reasonable comment", mode="post").decision == "approve"


@pytest.mark.parametrize(
    "text",
    [
        "they will kill you with these fees",
        "I could kill you for this idea",
        "צריך לקבור אותך",
        "ناوي قتلك",
    ],
)
def test_violence_aimed_at_you_without_a_clear_threat_goes_to_a_person(text: str) -> None:
    result = decide(text, mode="auto")
    assert (result.decision, result.reasons) == ("review", ("threat",))
    assert result.scores["rules"] == pytest.approx(0.6)


def test_a_possible_threat_inside_a_certain_one_is_not_reported_twice() -> None:
    hits = check_rules(matching_key("I will kill you"))
    assert [(h.category, h.severity) for h in hits] == [("threat", 1.0)]
