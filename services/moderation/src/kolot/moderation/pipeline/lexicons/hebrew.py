"""Hebrew: insults, vulgarity, slurs and threats written and curated for Kolot.

No package ships a Hebrew list; extend it with the moderators' decisions.
"""

from kolot.moderation.pipeline.lexicons import Lexicon

LEXICON = Lexicon(
    language="he",
    words={
        "abuse": (
            "זונה",
            "זונות",
            "בן זונה",
            "בת זונה",
            "בני זונות",
            "שרמוטה",
            "שרמוט",
            "שרמוטות",
            "מניאק",
            "מניאקית",
            "מניאקים",
            "חרא",
            "חתיכת חרא",
            "יא חרא",
            "כוס אמק",
            "כוסאמק",
            "כוס אמא שלך",
            "כוס אחותך",
            "לך תזדיין",
            "לכי תזדייני",
            "לכו תזדיינו",
            "יא זבל",
            "יא בהמה",
            "יא אפס",
            "יא חמור",
            "יא כלב",
            "יא מפגר",
            "יא מפגרת",
            "יא טיפש",
            "יא טמבל",
            "יא סתום",
            "יא נבלה",
            "יא נבלות",
            "יא מנוול",
            "בן כלבה",
            "חתיכת זבל",
            "חתיכת אפס",
            "לך לעזאזל",
            "שימות",
            "שתמות",
            "שימותו",
            "ימח שמו",
            "ימח שמם",
            "יימח שמו",
            "יימח שמם",
            # in Latin letters
            "ben zona",
            "bat zona",
            "bnei zonot",
            "sharmuta",
            "sharmoota",
            "manyak",
            "maniak",
            "manyakim",
            "kus emek",
            "kusemek",
            "kus ima shelcha",
            "kus ima shelha",
            "lech tizdayen",
            "lech tizdaien",
            "ya zevel",
            "ya behema",
            "ya maniak",
            "ya manyak",
            "ben kalba",
        ),
        "hate": (
            "ערבוש",
            "ערבושים",
            "כושי",
            "כושים",
            "פרענק",
            "פרענקים",
            "אשכנאצי",
            "אשכנאצים",
            "ערבי מסריח",
            "ערבים מסריחים",
            "יהודי מסריח",
            "יהודים מסריחים",
            "כושית",
            "ערבוש מסריח",
            "ערבושים מסריחים",
            "שחורים מסריחים",
            "רוסים מסריחים",
            "חרדים מסריחים",
            "דוסים מסריחים",
            "מתנחלים מסריחים",
            "הומו מסריח",
            "koshim",
            "arabushim",
            "arabush",
        ),
    },
    mild=(
        "מטומטם",
        "מטומטמת",
        "מטומטמים",
        "מטומטמות",
        "אידיוט",
        "אידיוטית",
        "אידיוטים",
        "דביל",
        "דבילית",
        "דבילים",
        "טמבל",
        "טמבלים",
        "אהבל",
        "אהבלים",
        "סתום את הפה",
        "תסתום",
        "תסתמי",
        "תסתמו",
        "שתוק",
        "חארות",
        "metumtam",
        "dabil",
        "debil",
        "mefager",
        "tembel",
        "stom",
    ),
    hate_patterns=(
        # <a group> are animals / vermin / a cancer
        r"(?<!\w)[ו]?ה?(?:ערבים|יהודים|מתנחלים|חרדים|אתיופים|דרוזים|מהגרים|פליטים|שמאלנים|הומואים"
        r"|מסתננים|נוצרים|מוסלמים|רוסים|בדואים)\s+(?:הם\s+|זה\s+)?(?:כולם\s+)?"
        r"(?:חיות|בהמות|מקקים|עכברושים|סרטן|טפילים|תת[\s-]?אדם|כלבים|חזירים|קופים|זבל|מגפה|חלאות)(?!\w)",
        # throw them all out / expel all the X
        r"(?<!\w)(?:צריך|צריכים|צריכה|יש|בואו|חייבים)?\s*(?:לגרש|לזרוק|לסלק|להעיף|לטהר)\s+(?:מפה\s+)?"
        r"(?:את\s+)?(?:כל\s+)?ה(?:ערבים|יהודים|מתנחלים|חרדים|אתיופים|דרוזים|מהגרים|פליטים|שמאלנים"
        r"|הומואים|מסתננים|נוצרים|מוסלמים|בדואים)(?!\w)",
        r"(?<!\w)(?:ערבים|יהודים|מתנחלים|חרדים|אתיופים|דרוזים|מהגרים|פליטים|שמאלנים|הומואים|מסתננים)"
        r"\s+החוצה(?!\w)",
    ),
    spam=(
        r"(?<!\w)(?:קנו|הזמינו|הצטרפו|הירשמו)\s+עכשיו(?!\w)",
        r"(?<!\w)לחצו\s+(?:כאן|על\s+הקישור)(?!\w)",
        r"(?<!\w)(?:הלוואה|הלוואות)\s+(?:מיידית|מיידיות|ללא\s+בטחונות|מהירה|מהירות)(?!\w)",
        r"(?<!\w)(?:הכנסה\s+פסיבית|משלוח\s+חינם|מבצע\s+מטורף|השקעה\s+בביטקוין|רווח\s+מובטח)(?!\w)",
    ),
    threats=(
        # I/we will murder, kill, slaughter, stab you/him/them: ארצח אותך, נהרוג אותם
        r"(?<!\w)[ו]?(?:אני\s+|אנחנו\s+)?[אנ](?:רצח|הרוג|שחט|דקור)\s+אות(?:ך|כם|כן|ו|ה|ם|ן)(?!\w)",
        r"(?<!\w)[ו]?(?:אני\s+|אנחנו\s+)[אנ](?:רצח|הרוג|שחט|דקור)(?!\w)",
        # I will shoot you: אירה בך
        r"(?<!\w)[ו]?(?:אני\s+)?[אנ]ירה\s+ב(?:ך|כם|ו|ה|הם)(?!\w)",
        # "you are dead!" said as a sentence; not "אם אתה מת בלי צוואה" (if you die intestate)
        r"(?<!\w)(?:אתה|את|אתם|אתן)\s+(?:מת|מתה|מתים|מתות)\s*(?:[.!]|$)",
        r"(?<!\w)(?:אתה|הוא)\s+בן\s+מוות(?!\w)|(?<!\w)(?:את|היא)\s+בת\s+מוות(?!\w)",
        # I know where you live
        r"(?<!\w)(?:יודע|יודעת|יודעים)\s+איפה\s+(?:אתה|את|אתם)\s+(?:גר|גרה|גרים)(?!\w)",
        # we will burn your house
        r"(?<!\w)[אנ]שרוף\s+(?:לך|לכם|לו|לה|להם)\s+את\s+ה(?:בית|אוטו|רכב|משרד)(?!\w)",
        # someone should murder / hang / shoot him
        r"(?<!\w)(?:צריך|צריכים|צריכה|יש|מגיע\s+לו)\s+(?:לרצוח|לתלות|לשחוט)\s+אות(?:ו|ה|ם|ך|כם)(?!\w)",
        r"(?<!\w)(?:צריך|צריכים|צריכה|יש)\s+לירות\s+ב(?:ו|ה|הם|ך|כם)(?!\w)",
        # death to <a group>
        r"(?<!\w)מוות\s+ל(?:ערבים|יהודים|שמאלנים|מתנחלים|דרוזים|נוצרים|מוסלמים|חרדים|אתיופים)(?!\w)",
        # in Latin letters: ani arzach otcha, ani yodea eifo ata gar, mavet la-aravim
        r"\b(?:ani|anachnu|ana)\s+(?:arzach|eherog|aharog|nirzach|naharog|eshchat|edkor|nadkor)"
        r"\s+(?:otcha|otach|otchem|oto|ota|otam)\b",
        r"\b(?:yodea|yodaat|yodim)\s+(?:eifo|eyfo|efo)\s+(?:ata|at|atem)\s+(?:gar|gara|garim)\b",
        r"\bmavet\s+l[ae]-?\s*(?:aravim|yehudim|smolanim|mitnachlim|druzim)\b",
    ),
    # words that read as prefix + lexicon word, or share its letters: מזונות (alimony, not
    # מ + זונות); מפגר and סתום are also "lagging behind" and "blocked" (a clogged drain), so
    # they count only addressed to someone ("יא מפגר", "תסתום"); זין is also "arms" (כלי זין)
    protected=frozenset({"מזונות", "מזונה"}),
)
