"""English: insults, vulgarity, slurs and threats."""

from kolot.moderation.pipeline.lexicons import Lexicon

_SUBJECT_WILL = (
    r"\b(?:i|we)\s*(?:'ll|will|shall|'m going to|am going to|'re going to|are going to"
    r"|'m gonna|am gonna|'re gonna|are gonna|gonna)\s+(?:\w+\s+)?"
)

LEXICON = Lexicon(
    language="en",
    words={
        "abuse": (
            "fuck",
            "fucking",
            "fucker",
            "fuckers",
            "fucked",
            "fuck you",
            "motherfucker",
            "motherfuckers",
            "cunt",
            "cunts",
            "asshole",
            "assholes",
            "dickhead",
            "dickheads",
            "bitch",
            "bitches",
            "son of a bitch",
            "whore",
            "whores",
            "slut",
            "sluts",
            "piece of shit",
            "shithead",
            "shitheads",
            "scumbag",
            "scumbags",
            "moron",
            "morons",
            "go to hell",
        ),
        "hate": (
            "nigger",
            "niggers",
            "kike",
            "kikes",
            "faggot",
            "faggots",
            "raghead",
            "ragheads",
            "towelhead",
            "towelheads",
            "sand nigger",
            "dirty arab",
            "dirty arabs",
            "dirty jew",
            "dirty jews",
        ),
    },
    threats=(
        # I will kill you, we're gonna shoot them, I'll fucking murder him
        _SUBJECT_WILL + r"(?:kill|murder|shoot|stab|strangle|slaughter|behead|rape|hang)"
        r"\s+(?:you|u|ya|him|her|them|your\s+\w+|all\s+of\s+you)\b",
        _SUBJECT_WILL + r"(?:burn|blow\s+up)\s+(?:down\s+)?(?:your|his|her|their)\s+"
        r"(?:house|home|car|office|family)\b",
        # you are dead (not "dead wrong", "dead serious")
        r"\byou(?:'re|\s+are|\s+r)\s+(?:so\s+)?(?:dead(?:\s+meat)?|a\s+dead\s+(?:man|woman))"
        r"\s*(?:[.!]|$)",
        r"\bi\s+know\s+where\s+you\s+(?:live|sleep|work)\b",
        r"\b(?:you|he|she|they)\s+(?:should|must|deserves?\s+to|ought\s+to)\s+be\s+"
        r"(?:killed|shot|hanged|murdered|lynched)\b",
        r"\b(?:you|he|she)\s+(?:should|must|deserves?\s+to)\s+die\b",
        r"\bdeath\s+to\s+(?:all\s+)?(?:the\s+)?(?:arabs|jews|muslims|christians|israelis"
        r"|palestinians|settlers|leftists|gays|immigrants|druze)\b",
    ),
)
