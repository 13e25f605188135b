"""Prompt → requirements: what to model and its dimensions, read from plain text.

"a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole" →
{"model_type": "bonsai_pot", "dimensions": {"width": 120.0, "height": 40.0}, "features": {"drainage_holes": 1}}
"""

import re

MODEL_KEYWORDS = [
    ("quadcopter_frame", r"quad(?:copter)?|drone|multirotor"),
    ("enclosure_box", r"enclosure|project box|electronics (?:box|case)|(?<!book )\bcase\b|\bbox\b"),
    ("bracket", r"bracket|shelf support|angle brace"),
    ("planter_tray", r"planter|tray|trough|window box|humidity"),
    ("bonsai_pot", r"bonsai|\bpot\b|flower ?pot|cachepot"),
    # After the older templates, so that prompts they took before still go to them ("shelf bracket").
    ("chair", r"chairs?\b|\bstools?\b"),
    ("table", r"\btables?\b|\bdesks?\b"),
    ("shelf", r"\bshel(?:f|ves)\b|book ?(?:case|shel(?:f|ves))"),
    ("vase", r"\bvases?\b|\b(?:tea)?cups?\b|\bmugs?\b|\btumblers?\b"),
]
SUPPORTED = [name for name, _ in MODEL_KEYWORDS]

UNIT_MM = {"mm": 1.0, "millimeter": 1.0, "millimeters": 1.0, "millimetre": 1.0, "millimetres": 1.0,
           "cm": 10.0, "centimeter": 10.0, "centimeters": 10.0, "centimetre": 10.0, "centimetres": 10.0,
           "m": 1000.0, "in": 25.4, "inch": 25.4, "inches": 25.4, '"': 25.4}
AXIS_WORDS = {
    "width": r"wide|width|across|diameter|dia",
    "height": r"tall|high|height",
    "depth": r"deep|depth",
    "length": r"long|length",
    "thickness": r"thick|thickness|wall",
    "span": r"motor[- ]to[- ]motor|diagonal|wheelbase|span",
}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_UNIT = r"(mm|millimet(?:er|re)s?|cm|centimet(?:er|re)s?|inch(?:es)?|in|m|\")"
_NUM = r"(\d+(?:\.\d+)?)"


def _axis(word: str) -> str | None:
    for axis, rx in AXIS_WORDS.items():
        if re.fullmatch(rx, word.strip().lower()):
            return axis
    return None


def _mm(value: str, unit: str | None) -> float:
    return round(float(value) * UNIT_MM.get((unit or "mm").lower(), 1.0), 3)


def requirements_from_prompt(prompt: str) -> dict:
    text = " ".join((prompt or "").split())
    lower = text.lower()
    model_type = next((name for name, rx in MODEL_KEYWORDS if re.search(rx, lower)), None)
    dims: dict[str, float] = {}
    # "seat height of 45 cm", "45 cm seat height": read first, and blanked so it is not the overall height.
    seat = re.search(rf"seat[- ]?(?:height|high)\s*(?:of|:|=|is)?\s*{_NUM}\s*{_UNIT}?|{_NUM}\s*{_UNIT}?\s*seat[- ]?(?:height|high)", lower)
    if seat:
        value, unit = (seat.group(1), seat.group(2)) if seat.group(1) else (seat.group(3), seat.group(4))
        dims["seat_height"] = _mm(value, unit)
        lower = lower[:seat.start()] + " " + lower[seat.end():]
    words = "|".join(AXIS_WORDS.values())
    # "120 x 80 x 40 mm" → width, depth, height
    triple = re.search(rf"{_NUM}\s*[x×]\s*{_NUM}(?:\s*[x×]\s*{_NUM})?\s*{_UNIT}?", lower)
    if triple:
        unit = triple.group(4)
        values = [v for v in triple.groups()[:3] if v]
        for axis, value in zip(["width", "depth", "height"] if len(values) == 3 else ["width", "depth"], values):
            dims[axis] = _mm(value, unit)
    # "120 mm wide", "3 mm thick arms", "160 mm motor-to-motor"
    for match in re.finditer(rf"{_NUM}\s*{_UNIT}?\s*(?:in\s+)?({words})\b", lower):
        axis = _axis(match.group(3))
        if axis:
            dims.setdefault(axis, _mm(match.group(1), match.group(2)))
    # "width of 120 mm", "height: 40mm", "diameter 12 cm"
    for match in re.finditer(rf"\b({words})\b\s*(?:of|:|=|is)?\s*{_NUM}\s*{_UNIT}?", lower):
        axis = _axis(match.group(1))
        if axis:
            dims.setdefault(axis, _mm(match.group(2), match.group(3)))
    features: dict = {}
    if re.search(r"no (?:drainage )?holes?|without (?:a )?(?:drainage )?holes?", lower):
        features["drainage_holes"] = 0
    elif m := re.search(r"(\d+|two|three|four)\s+(?:drainage )?holes", lower):
        features["drainage_holes"] = {"two": 2, "three": 3, "four": 4}.get(m.group(1)) or int(m.group(1))
    elif re.search(r"drainage|hole", lower):
        features["drainage_holes"] = 1
    if re.search(r"rectangular|square|oval|rectangle", lower):
        features["shape"] = "rectangular"
    if model_type == "shelf" and (m := re.search(r"(\d+|one|two|three|four|five|six|seven|eight)\s+(?:shelves|shelf|tiers|levels)", lower)):
        features["shelves"] = NUMBER_WORDS.get(m.group(1)) or int(m.group(1))
    if model_type == "chair" and re.search(r"\bstools?\b", lower) and not re.search(r"back ?rest|backed", lower):
        features["backrest"] = False
    if model_type == "vase":
        features["vessel"] = "mug" if re.search(r"\bmugs?\b", lower) else "cup" if re.search(r"cups?\b|tumbler", lower) else "vase"
    if re.search(r"\blid\b|cover", lower):
        features["lid"] = True
    return {"model_type": model_type, "dimensions": dims, "features": features, "prompt": text}
