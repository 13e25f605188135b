"""Moderation of job inputs, run while a job is `validating`.

The local policy (offline, deterministic) always runs first and is the floor: what it flags is
refused without asking anyone. With `MODERATION_BACKEND=openai`, text the local policy lets
through goes to OpenAI's moderation endpoint (`omni-moderation-latest`) through the provider
client; a failing remote call fails the job (`error_type=moderation_unavailable`) rather than
letting unchecked input through. The verdict says which engine decided and what it matched.

Categories use OpenAI's names: sexual, sexual/minors, harassment, hate, self-harm, violence,
violence/graphic, illicit, illicit/violent (weapons are illicit/violent).

How the local policy reads a text (see `_views`): Unicode is folded (NFKC, accents and
zero-width characters removed, common Cyrillic/Greek look-alikes mapped to Latin, case folded),
punctuation separates words, and a run of three or more single characters ("s e x", "k.i.l.l")
is joined into one word. Each phrase is matched as whole words only, with every letter allowed
to repeat ("seeex") and to be written as its usual leetspeak stand-ins ("s3x", "k1ll", "$ex").
Because joined runs come only from single characters and phrases never match inside a word,
"Essex", "cocktail table", "therapist" and "assassin bug" stay clean.
"""

import re
import unicodedata
from dataclasses import asdict, dataclass, field

from django.conf import settings

from mozukai_hub.api.errors import ApplicationError

from .providers import ProviderClient, ProviderError

OPENAI_MODEL = "omni-moderation-latest"
# How far apart (in words) a sexual term and a term for a child may be to count together.
MINORS_WINDOW_WORDS = 12
MAX_MATCHED = 10

# Phrases per category. Syntax: lowercase letters and digits, a space between words (the space
# is optional in the text: "childporn" matches "child porn"), `?` after a letter or a `(?:…)`
# group, `|` inside groups. Every letter also matches its leetspeak forms and repeats.
LOCAL_RULES: dict[str, list[str]] = {
    "sexual/minors": [
        "child (?:porn|pornography|pornographic|sex|sexual|nudes?|abuse material|exploitation material)",
        "kiddie porn", "kiddy porn", "csam", "csem", "lolicon", "loli", "shotacon", "shota", "jailbait",
        "p(?:a)?edo", "p(?:a)?edos", "p(?:a)?edophiles?", "p(?:a)?edophilia", "p(?:a)?edophilic",
        "underage (?:sex|nudes?|naked|porn|girls?|boys?)", "preteen (?:sex|nudes?|naked|porn)",
    ],
    "sexual": [
        "sex", "sexual", "sexually", "sexed", "sexting", "porn", "porno", "pornography", "pornographic", "nsfw",
        "erotic", "erotica", "hentai", "blowjobs?", "handjobs?", "orgasms?", "masturbat(?:e|es|ed|ing|ion)",
        "genitals?", "genitalia", "penis(?:es)?", "vaginas?", "dildos?", "sex toys?", "intercourse", "boobs",
        "rape", "raped", "rapes", "raping", "rapist", "rapists", "gangbang", "cumshot", "fuck(?:ing)? (?:her|him|me)",
    ],
    "violence/graphic": [
        "gore", "gory", "dismember(?:ed|ing|ment)?", "decapitat(?:e|ed|ing|ion)", "behead(?:ed|ing)?",
        "disembowel(?:ed|led|ing|ment)?", "mutilat(?:e|ed|ing|ion)", "eviscerat(?:e|ed|ing|ion)",
        "severed (?:heads?|limbs?|arms?|legs?|hands?|fingers?)", "flayed", "skinned alive", "guts spilling",
        "blood splatter(?:ed)?", "torture devices?", "torture chamber", "tortured",
    ],
    "violence": [
        "(?:kill|murder|stab|shoot|strangle|hurt|torture) (?:him|her|them|people|someone|everyone|my (?:wife|husband|boss|family|neighbou?r))",
        "kill (?:all|every) (?:of )?(?:them|people|jews|muslims|christians|blacks|whites|gays)",
        "murder(?:ed|ing|er|ers)? (?:him|her|them|people|someone)", "massacre", "massacred", "genocide",
        "mass shooting", "school shooting", "shoot up (?:a|the|my) (?:school|church|mosque|synagogue|office)",
        "how to kill (?:a person|people|someone|him|her)", "assassinate", "assassination plot", "ethnic cleansing", "terrorist attack",
    ],
    "self-harm": [
        "suicide", "suicidal", "kill (?:myself|meself)", "end my life", "end it all", "self harm", "selfharm",
        "cut(?:ting)? myself", "hang(?:ing)? myself", "noose for (?:me|myself)", "slit (?:my )?wrists?",
        "want to die", "how to overdose", "overdose on purpose",
    ],
    "hate": [
        "nazi", "nazis", "neo nazi", "neonazi", "swastikas?", "kkk", "ku klux klan", "white power", "heil hitler",
        "sieg heil", "white supremacy", "white supremacist", "gas the jews", "n(?:i|e)gg(?:a|er|ers|as|az)",
        "faggots?", "kikes?", "spics?", "trann(?:y|ies)", "retards?", "subhumans?", "untermensch",
    ],
    "harassment": [
        "kill yourself", "kys", "go die", "you should die", "hope you die", "i will (?:kill|hurt|find|rape) you",
        "fuck you", "fuck off", "motherfuckers?", "piece of shit", "bitch(?:es)?", "cunts?", "whores?", "sluts?",
        "you (?:are|re|r) (?:an idiot|stupid|worthless|ugly|pathetic|disgusting)",
    ],
    "illicit/violent": [
        "guns?", "handguns?", "shotguns?", "firearms?", "pistols?", "rifles?", "revolvers?", "suppressors?",
        "silencers?", "lower receivers?", "ghost guns?", "auto sears?", "bump stocks?", "ar ?15s?", "ak ?47s?",
        "glocks?", "ammunition", "ammo", "bombs?", "pipe bombs?", "grenades?", "explosives?", "detonators?",
        "ieds?", "molotov", "napalm", "landmines?", "brass knuckles",
    ],
    "illicit": [
        "cocaine", "heroin", "meth", "methamphetamine", "fentanyl", "crack pipe", "cook(?:ing)? meth",
        "counterfeit (?:money|bills|notes|cash)", "fake (?:id|ids|passport|passports)", "card skimmers?",
        "credit card skimmers?", "drug paraphernalia",
    ],
}

# Terms for a child: together with a sexual term (or nudity) nearby, the text is sexual/minors.
MINOR_TERMS = [
    "child", "children", "childs", "kid", "kids", "minor", "minors", "underage", "under age", "preteens?", "pre teens?",
    "toddlers?", "infants?", "baby", "babies", "teens?", "teenagers?", "schoolgirls?", "schoolboys?",
    "(?:little|young) (?:girls?|boys?)", "(?:daughter|son|niece|nephew|stepdaughter|stepson)s?",
    "(?:1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|17) ?(?:yo|y o|years? old|yrs? old)",
]
# Nudity words are ordinary alone ("naked raku" pottery, a "nude" colour) but not near a child.
NUDITY_TERMS = ["nude", "nudes", "naked", "topless", "undressed", "nudity", "lingerie"]
NUDITY_WINDOW_WORDS = 4

# Ordinary phrases that contain a listed word; removed before matching (replaced by a word
# boundary, so nothing on either side joins up). Tools and colours, not weapons.
BENIGN_PHRASES = [
    "(?:hot )?glue guns?", "nail guns?", "staple guns?", "heat guns?", "caulk(?:ing)? guns?", "spray guns?",
    "grease guns?", "massage guns?", "gun metal", "bath bombs?", "seed bombs?", "photo bombs?",
    "rifle scope covers?", "sex of (?:the|a) (?:plant|flower|tree)", "gore tex", "rape ?seeds?", "oilseed rape",
    "rape seed oil",
]

# Leetspeak stand-ins per letter. The text keeps these characters inside words.
LEET = {
    "a": "a4@", "b": "b8", "e": "e3", "g": "g9", "i": "i1!|", "l": "l1|", "o": "o0", "s": "s5$", "t": "t7+", "z": "z2",
}
LEET_SYMBOLS = "@$!|+"
# Cyrillic and Greek letters that look like Latin ones (the usual way to slip a word past a filter).
CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "α": "a", "β": "b", "ε": "e", "ι": "i",
    "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
})


@dataclass
class Verdict:
    flagged: bool
    categories: list[str] = field(default_factory=list)
    engine: str = "local"
    matched: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class ModerationUnavailable(ApplicationError):
    status_code = 503
    code = "moderation_unavailable"


def _phrase_regex(phrase: str) -> str:
    """A rule phrase as regex source: letters → leet classes that may repeat, spaces optional."""
    out = []
    i = 0
    while i < len(phrase):
        c = phrase[i]
        if phrase.startswith("(?:", i):
            out.append("(?:")
            i += 3
            continue
        if c.isalpha() or c.isdigit():
            # A letter may repeat and take its leet forms; a digit is itself.
            out.append("(?:[" + re.escape(LEET.get(c, c)) + "]+)" if c.isalpha() else c)
        elif c == " ":
            out.append(" ?")
        elif c in "?|)":
            out.append(c)
        else:
            raise ValueError(f"Unsupported character {c!r} in moderation phrase {phrase!r}")
        i += 1
    return "".join(out)


def _compile(phrases: list[str]) -> re.Pattern:
    # Words in a view are separated by single spaces; a match must start and end on word edges.
    body = "|".join(f"(?:{_phrase_regex(p)})" for p in phrases)
    return re.compile(rf"(?<!\S)(?:{body})(?!\S)")


_RULES = {category: _compile(phrases) for category, phrases in LOCAL_RULES.items()}
_MINORS = _compile(MINOR_TERMS)
_SEXUAL = _compile(LOCAL_RULES["sexual"])
_NUDITY = _compile(NUDITY_TERMS)
_BENIGN = _compile(BENIGN_PHRASES)
# What replaces a benign phrase: a character no view contains, so no phrase can use it.
_GAP = "#"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(CONFUSABLES)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")  # zero-width joiners and friends
    return text.casefold().translate(CONFUSABLES)


def _join_spelled_out(words: list[str]) -> list[str]:
    """Join runs of 3+ single characters ("s", "e", "x") into one word.

    A leading "a" or "i" of a longer run is most likely the article or pronoun ("draw a s e x
    scene"), so it stays a word of its own.
    """
    out: list[str] = []
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and len(words[j]) == 1:
            j += 1
        if j == i:
            out.append(words[i])
            i += 1
            continue
        run = words[i:j]
        if len(run) >= 3:
            if run[0] in ("a", "i") and len(run) >= 4:
                out.append(run.pop(0))
            out.append("".join(run))
        else:
            out.extend(run)
        i = j
    return out


def _views(text: str) -> list[str]:
    """The text as space-separated words, twice: leet symbols kept as letters ("$ex"), and
    treated as punctuation ("kill!")."""
    folded = _fold(text)
    views = []
    for word in (rf"[a-z0-9{re.escape(LEET_SYMBOLS)}]+", r"[a-z0-9]+"):
        view = " ".join(_join_spelled_out(re.findall(word, folded)))
        views.append(_BENIGN.sub(_GAP, view))
    return list(dict.fromkeys(views))


def _mostly_letters(match: str) -> bool:
    """"s3x" is a word in disguise; "53x" (a dimension) is not."""
    return sum(c.isdigit() for c in match) <= sum(c.isalpha() for c in match)


def _words(rx: re.Pattern, view: str) -> list[tuple[int, int, str]]:
    """Matches as (first word index, last word index, text)."""
    return [(view.count(" ", 0, m.start()), view.count(" ", 0, m.end()), m.group(0))
            for m in rx.finditer(view) if _mostly_letters(m.group(0))]


def _minors_hits(view: str) -> list[str]:
    """Sexual terms near a term for a child (nudity words only when right next to it)."""
    minors = _words(_MINORS, view)
    if not minors:
        return []
    hits = []
    for terms, window in ((_words(_SEXUAL, view), MINORS_WINDOW_WORDS), (_words(_NUDITY, view), NUDITY_WINDOW_WORDS)):
        for m_start, m_end, m_text in minors:
            for s_start, s_end, s_text in terms:
                if s_start - m_end <= window and m_start - s_end <= window:
                    hits.append(f"{s_text} … {m_text}" if s_start <= m_start else f"{m_text} … {s_text}")
    return hits


def moderate_text_local(text: str) -> Verdict:
    found: dict[str, list[str]] = {}
    for view in _views(text or ""):
        for category, rx in _RULES.items():
            for _, _, match in _words(rx, view):
                found.setdefault(category, []).append(match)
        for hit in _minors_hits(view):
            found.setdefault("sexual/minors", []).append(hit)
    if "sexual/minors" in found:
        found.setdefault("sexual", [])  # as OpenAI reports it: sexual/minors is also sexual
    categories = [c for c in LOCAL_RULES if c in found]
    matched = list(dict.fromkeys(f"{c}: {m[:60]}" for c in categories for m in found[c]))[:MAX_MATCHED]
    return Verdict(flagged=bool(categories), categories=categories, engine="local", matched=matched)


def moderate_text_openai(text: str) -> Verdict:
    """POST /moderations through the provider client (bounded retries on 429/5xx)."""
    headers = {"Authorization": f"Bearer {settings.OPENAI_API_KEY}"}
    try:
        with ProviderClient("OpenAI moderation", settings.OPENAI_BASE_URL, headers, timeout=15) as client:
            answer = client.request("POST", "/moderations", json={"model": OPENAI_MODEL, "input": text})
        result = answer["results"][0]
        categories = sorted(name for name, hit in (result.get("categories") or {}).items() if hit)
        scores = result.get("category_scores") or {}
    except ProviderError as exc:
        raise ModerationUnavailable(f"Moderation service failed: {exc}")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise ModerationUnavailable("Moderation service failed: an answer without results.")
    matched = [f"{name}: {float(scores.get(name) or 0):.2f}" for name in categories][:MAX_MATCHED]
    return Verdict(flagged=bool(result.get("flagged")), categories=categories, engine="openai", matched=matched)


def moderate_text(text: str) -> Verdict:
    if not (text or "").strip():
        return Verdict(flagged=False)
    local = moderate_text_local(text)
    if local.flagged or settings.MODERATION_BACKEND != "openai":
        return local
    return moderate_text_openai(text)


def _param_texts(value) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _param_texts(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _param_texts(item)]
    return []


def moderate_job(*, job, engine) -> Verdict:
    """Moderate the text params the job's engine declares (`moderated_params`, else the prompt)."""
    names = getattr(engine, "moderated_params", ("prompt",))
    texts = [text for name in names for text in _param_texts((job.params or {}).get(name))]
    return moderate_text("\n".join(texts))
