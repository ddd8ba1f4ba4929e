"""Normalisation, language detection and redaction: the pipeline's pure steps."""

from __future__ import annotations

import pytest

from kolot.moderation.pipeline import (
    detect_language,
    israeli_id_valid,
    luhn_valid,
    matching_key,
    normalise,
    redact,
    to_ascii_digits,
)

# --- normalise ---------------------------------------------------------------------------------


def test_normalise_keeps_the_original_for_display() -> None:
    text = "שָׁלוֹם   World\u200b"
    result = normalise(text)
    assert result.original == text
    assert result.key == "שלומ world"


@pytest.mark.parametrize(
    ("written", "plain"),
    [
        ("בְּרֵאשִׁית בָּרָא אֱלֹהִים", "בראשית ברא אלהימ"),  # niqqud
        ("בְּרֵאשִׁ֖ית בָּרָ֣א", "בראשית ברא"),  # niqqud and cantillation
        ("מְטֻמְטָם", "מטמטמ"),  # defective spelling stays defective: rules use skeletons
        ("כּוֹס", "כוס"),  # dagesh
    ],
)
def test_hebrew_points_and_cantillation_are_dropped(written: str, plain: str) -> None:
    assert matching_key(written) == plain


@pytest.mark.parametrize(
    ("written", "plain"),
    [
        ("العَرَبِيَّةُ", "العربيه"),  # harakat and shadda; ta marbuta folded
        ("مـــرحـــبـــا", "مرحبا"),  # tatweel
        ("سَأَقْتُلُكَ", "ساقتلك"),  # harakat and hamza on alef
        ("أحمد إبراهيم آمن", "احمد ابراهيم امن"),  # alef variants
        ("مستشفى", "مستشفي"),  # alef maqsura
        ("ﻣﺮﺣﺒﺎ", "مرحبا"),  # presentation forms
    ],
)
def test_arabic_harakat_tatweel_and_letter_variants_are_folded(written: str, plain: str) -> None:
    assert matching_key(written) == plain


def test_hebrew_final_letters_are_folded() -> None:
    assert matching_key("ך ם ן ף ץ") == "כ מ נ פ צ"
    assert matching_key("אותך") == matching_key("אותכ")


def test_invisible_and_bidi_characters_are_dropped() -> None:
    hidden = "f\u200bu\u200dc\u2060k \u202eabc\u202c \u200fשלום\u200e \ufeffx\u061c"
    assert matching_key(hidden) == "fuck abc שלומ x"


def test_compatibility_forms_and_case_are_folded() -> None:
    assert matching_key("ＦＵＣＫ The Ministry") == "fuck the ministry"
    assert matching_key("I’ll") == "i'll"


def test_plain_text_is_unchanged_apart_from_case_and_spaces() -> None:
    assert matching_key("  The minister\tis\n\nincompetent ") == "the minister is incompetent"


# --- detect_language ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("התוכנית הזאת לא תעבוד", "he"),
        ("שָׁלוֹם עֲלֵיכֶם", "he"),
        ("هذه الخطة لن تنجح", "ar"),
        ("العَرَبِيَّةُ", "ar"),
        ("This plan will not work", "en"),
        ("Ｆｕｌｌｗｉｄｔｈ", "en"),
        ("12345 !!! ...", "und"),
        ("", "und"),
        ("Это не сработает", "und"),
    ],
)
def test_language_is_the_script_with_most_letters(text: str, language: str) -> None:
    assert detect_language(text).language == language


def test_language_reports_the_mix() -> None:
    guess = detect_language("המשרד של ministry")  # 7 Hebrew letters, 8 Latin
    assert guess.language == "en"
    assert guess.mix == {"en": 0.533, "he": 0.467}
    assert detect_language("שלום").mix == {"he": 1.0}
    assert detect_language("123").mix == {}


# --- check digits ------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["000000018", "123456782", "039337423", "18"])
def test_israeli_id_with_a_valid_check_digit(number: str) -> None:
    assert israeli_id_valid(number)


@pytest.mark.parametrize(
    "number", ["123456789", "000000019", "039337424", "1234567890", "12a45678"]
)
def test_israeli_id_with_a_wrong_check_digit_or_shape(number: str) -> None:
    assert not israeli_id_valid(number)


@pytest.mark.parametrize("number", ["4111111111111111", "5500005555555559", "378282246310005"])
def test_luhn_accepts_valid_card_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "5500005555555550", "", "4111-1111"])
def test_luhn_refuses_invalid_card_numbers(number: str) -> None:
    assert not luhn_valid(number)


def test_arabic_indic_and_persian_digits_become_ascii_one_for_one() -> None:
    assert to_ascii_digits("٠٥٠١٢٣٤٥٦٧ ۰۵۲") == "0501234567 052"
    assert len(to_ascii_digits("٠٥٠")) == 3


# --- redact ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "050-1234567",
        "0501234567",
        "052-123-4567",
        "054 123 4567",
        "+972-50-1234567",
        "+972 52 123 4567",
        "+972501234567",
        "00972-3-6123456",
        "02-6543210",
        "03 123 4567",
        "077-1234567",
        "+44 20 7946 0958",
    ],
)
def test_phone_numbers_are_redacted(phone: str) -> None:
    result = redact(f"התקשרו אליי {phone} בבקשה")
    assert result.text == "התקשרו אליי [phone] בבקשה"
    assert result.kinds == ("phone",)


def test_phone_written_in_arabic_indic_digits_is_redacted() -> None:
    result = redact("اتصل بي على ٠٥٠-١٢٣٤٥٦٧ شكرا")
    assert result.text == "اتصل بي على [phone] شكرا"


def test_bidi_marks_inside_a_number_do_not_hide_it() -> None:
    assert redact("טלפון 05\u200f0-1234567!").text == "טלפון [phone]!"


def test_email_is_redacted() -> None:
    result = redact("write to dana.levi+consult@example.gov.il, thanks")
    assert result.text == "write to [email], thanks"
    assert result.found[0].kind == "email"


def test_israeli_id_number_is_redacted_only_with_a_valid_check_digit() -> None:
    assert redact("ת.ז. 123456782").text == "ת.ז. [id-number]"
    assert redact("ת.ז. 123456789").text == "ת.ז. 123456789"


def test_card_numbers_are_redacted_only_when_luhn_valid() -> None:
    result = redact("card 4111 1111 1111 1111, or 4111-1111-1111-1111, not 4111 1111 1111 1112")
    assert result.text == "card [card], or [card], not 4111 1111 1111 1112"
    assert result.kinds == ("card",)


def test_several_kinds_are_listed_with_their_places() -> None:
    text = "a@b.io 050-1234567 123456782"
    result = redact(text)
    assert result.text == "[email] [phone] [id-number]"
    assert [(f.kind, text[f.start : f.end]) for f in result.found] == [
        ("email", "a@b.io"),
        ("phone", "050-1234567"),
        ("id-number", "123456782"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "התקציב גדל ב-2024 ל-150,000,000 ש״ח, 3.5% יותר",
        "Section 12(3) of the 1965 Planning Act, amended 2021-07-14",
        "الميزانية 250 مليون شيكل لعام 2025",
        "",
    ],
)
def test_numbers_that_are_not_personal_data_are_kept(text: str) -> None:
    result = redact(text)
    assert result.text == text
    assert result.found == ()


# --- disguises, transliteration, more personal data ---------------------------------------------


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("ѕhit happens", "shit happens"),  # Cyrillic s
        ("𝐟𝐮𝐜𝐤 this", "fuck this"),
        ("sh1t plan", "shit plan"),
        ("f u c k you", "fuck you"),
        ("k.i.l.l", "kill"),
        ("ז ו נ ה", "זונה"),
    ],
)
def test_the_folded_key_undoes_disguises(written: str, folded: str) -> None:
    assert normalise(written).keys[-1] == folded


def test_hebrew_and_arabic_letters_and_arabizi_digits_are_not_folded() -> None:
    assert normalise("שלום עולם").folded == ""  # nothing to undo
    assert normalise("ya 7mar").key == "ya 7mar"  # the plain key keeps Arabizi's letter 7
    assert normalise("budget 2024").folded == ""  # numbers are not leetspeak


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("ana mish fahem leh el hokoma 3amla keda", "ar"),
        ("inta 7mar", "ar"),
        ("ata lo mevin ma ze", "he"),
        ("I am at home and the plan is bad", "en"),
    ],
)
def test_arabic_and_hebrew_in_latin_letters_are_recognised(text: str, language: str) -> None:
    guess = detect_language(text)
    assert guess.language == language
    assert guess.transliterated == (language != "en")


@pytest.mark.parametrize(
    "text",
    [
        "write to dana at gmail dot com please",
        "mail: dana [at] gmail [dot] com please",
        "dana.levi@example.org please",
    ],
)
def test_spelled_out_emails_are_redacted(text: str) -> None:
    result = redact(text)
    assert result.kinds == ("email",)
    assert "dana" not in result.text


def test_ibans_are_redacted_only_with_valid_check_digits() -> None:
    assert redact("IBAN IL62 0108 0000 0009 9999 999 thanks").text == "IBAN [iban] thanks"
    assert redact("IBAN IL63 0108 0000 0009 9999 999 thanks").kinds == ()


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("אני גר ברחוב הרצל 12 בתל אביב", "אני גר ב[address] בתל אביב"),
        ("أسكن بشارع صلاح الدين 14 في القدس", "أسكن ب[address] في القدس"),
        ("I live at 221 Baker Street now", "I live at [address] now"),
        ("הרחוב הזה צריך תאורה", "הרחוב הזה צריך תאורה"),
        ("see Section 12 of the act", "see Section 12 of the act"),
    ],
)
def test_street_addresses_are_redacted_by_pattern(text: str, redacted: str) -> None:
    assert redact(text).text == redacted
