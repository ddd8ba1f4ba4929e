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
            "fuk",
            "fck",
            "fcking",
            "fuking",
            "fukin",
            "fuckin",
            "fuckface",
            "stfu",
            "gtfo",
            "wanker",
            "wankers",
            "twat",
            "twats",
            "prick",
            "pricks",
            "cocksucker",
            "bastard",
            "bastards",
            "pussy",
            "shit for brains",
            "eat shit",
            "kill yourself",
            "kys",
            "die in a fire",
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
            "spic",
            "spics",
            "chink",
            "chinks",
            "wetback",
            "wetbacks",
            "tranny",
            "trannies",
            "dyke",
            "dykes",
            "pallywood",
            "jewboy",
            "yid",
            "yids",
            "shylock",
            "gas the jews",
            "sieg heil",
        ),
    },
    mild=(
        "moron",
        "morons",
        "idiot",
        "idiots",
        "imbecile",
        "imbeciles",
        "retard",
        "retards",
        "retarded",
        "dumbass",
        "jackass",
        "shut up",
        "shit",
        "bullshit",
        "go to hell",
        "damn you",
        "screw you",
        "piss off",
    ),
    possible_threats=(
        r"\b(?:kill|shoot|stab|murder|hang|burn|strangle|slaughter|behead|bury|hurt|beat|lynch"
        r"|choke|smash)\s+(?:you|ya|u|y'all)\b",
    ),
    hate_patterns=(
        r"\bthe\s+only\s+good\s+(\w+)\s+is\s+a\s+dead\s+\1\b",
        r"\b(?:all\s+)?(?:the\s+)?(?:arabs|jews|muslims|immigrants|refugees|africans|ethiopians"
        r"|migrants|infiltrators|blacks|russians)\s+should\s+(?:go|be\s+sent)\s+back\s+to\b",
        r"\b(?:all\s+)?(?:the\s+)?(?:arabs|jews|muslims|christians|immigrants|refugees|africans|ethiopians"
        r"|settlers|haredim|druze|gays|migrants|infiltrators|blacks|palestinians|israelis|zionists)"
        r"\s+(?:are|r)\s+(?:all\s+)?(?:just\s+)?(?:animals|vermin|rats|cockroaches|parasites|subhumans?"
        r"|a\s+cancer|a\s+plague|dogs|pigs|monkeys|apes|filth|scum|savages|a\s+disease)\b",
        r"\b(?:throw|kick|deport|expel|get|drive)\s+(?:all\s+)?(?:the(?:se)?\s+)?(?:arabs|jews|muslims"
        r"|christians|immigrants|refugees|africans|ethiopians|settlers|haredim|druze|gays|migrants"
        r"|infiltrators|blacks)\s+out\b",
        r"\b(?:all\s+)?(?:the\s+)?(?:arabs|jews|muslims|immigrants|refugees|africans|ethiopians|settlers"
        r"|haredim|druze|gays|migrants|infiltrators|blacks)\s+(?:should|must|need\s+to|ought\s+to)\s+be\s+"
        r"(?:thrown\s+out|deported|expelled|exterminated|gassed|wiped\s+out|eliminated|sterilized)\b",
        r"\b(?:arabs|jews|muslims|immigrants|refugees|africans|settlers|migrants|infiltrators)\s+"
        r"(?:go\s+home|get\s+out|out)\s*(?:[.!]|$)",
    ),
    spam=(
        r"\b(?:buy|order|shop|sign\s+up|register)\s+now\b",
        r"\bclick\s+(?:here|the\s+link|this\s+link|below)\b",
        r"\b(?:earn|make)\s+\$?\d[\d,]*k?\s*(?:\$|dollars|usd|nis|shekels)?\s*(?:a|per|every)\s+"
        r"(?:day|week|month|hour)\b",
        r"\b(?:bitcoin|crypto|forex|binary\s+options)\s+(?:investment|trading|profits?|signals)\b",
        r"\b(?:work\s+from\s+home|free\s+(?:gift|iphone|money|trial)|100%\s+guaranteed"
        r"|limited\s+time\s+offer|cheap\s+(?:viagra|cialis|loans?)|viagra|cialis|online\s+casino)\b",
        r"\b(?:whatsapp|telegram|dm)\s+(?:me|us)\s+(?:at|on|now)\b",
        r"(?:(?:https?://|www\.)\S+.*?){3,}",
    ),
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
        r"\bwatch\s+your\s+back\b",
        _SUBJECT_WILL + r"(?:put|shoot|send)\s+a\s+bullet\s+(?:in|into|through)\s+"
        r"(?:your|his|her|their)\b",
        # I'll find you and break your face / beat you up
        _SUBJECT_WILL
        + r"(?:find\s+you\s+and\s+)?(?:break|smash|bash|cut|slit)\s+(?:your|his|her|their)"
        r"\s+(?:face|head|legs|neck|bones|skull|throat)\b",
        _SUBJECT_WILL
        + r"(?:find\s+you\s+and\s+)?beat\s+(?:you|him|her|them)\s+(?:up|to\s+death)\b",
        # someone should shoot the minister
        r"\b(?:someone|somebody|people|we|they)\s+(?:should|must|needs?\s+to|ought\s+to|has\s+to)\s+"
        r"(?:shoot|kill|hang|murder|stab|lynch|behead)\s+(?:him|her|them|you|the\s+(?:prime\s+minister"
        r"|minister|mayor|pm|judge|mk|president|ceo|chairman|chairwoman|officials|politicians))\b",
        r"\b(?:you|he|she|they)\s+(?:should|must|deserves?\s+to|ought\s+to)\s+be\s+"
        r"(?:killed|shot|hanged|murdered|lynched)\b",
        r"\b(?:you|he|she|they|(?:the\s+)?(?:prime\s+minister|minister|mayor|judge|mk|officials"
        r"|politicians|chairman|chairwoman|ceo|director|pm))\s+(?:should|must|deserves?\s+to|ought\s+to)"
        r"\s+die\b",
        r"\bdeath\s+to\s+(?:all\s+)?(?:the\s+)?(?:arabs|jews|muslims|christians|israelis"
        r"|palestinians|settlers|leftists|gays|immigrants|druze)\b",
    ),
)
