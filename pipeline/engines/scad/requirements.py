"""Prompt → requirements: what to model and its dimensions, read from plain text.

"a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole" →
{"model_type": "bonsai_pot", "dimensions": {"width": 120.0, "height": 40.0}, "features": {"drainage_holes": 1}}

A quadcopter's own words are read first ("5 inch props", "2207 motors", "20x20 stack", "motor
mount 16x19", "arms 4 mm thick"), as are screws ("M3 x 8 mm") and an enclosure's inner size, so
that none of them is taken for a size of the whole model.
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
    "thickness": r"thick|thickness|walls?",
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


def _unit_name(unit: str | None) -> str:
    """The unit as written, in its short form: "millimetres" → "mm", '"' → "in"."""
    unit = (unit or "mm").lower()
    if unit.startswith("mill"):
        return "mm"
    if unit.startswith("cent"):
        return "cm"
    if unit.startswith("in") or unit == '"':
        return "in"
    return unit


# "M3", "M3 x 8 mm screws", "M2x6": the length is read with it, so it is not a size of the model.
SCREW = re.compile(r"\bm(2\.5|2|3|4|5)(?![\d.])(?:\s*[x×]\s*\d+(?:\.\d+)?)?(?:\s*mm)?(?:\s*(?:screws?|bolts?|hardware|inserts?|nuts?))?")
# Flight-controller stacks ("20x20 stack", "30.5 x 30.5 mm"; people write 30x30 for 30.5): read
# before the generic "W x D x H" so that a stack is not a 20 × 20 mm frame.
FC_STACK = re.compile(r"\b(16|20|25\.5|30\.5|30)\s*(?:mm\s*)?[x×]\s*(16|20|25\.5|30\.5|30)(?!\s*(?:mm\s*)?[x×\d])(?:\s*mm)?")
MOTOR_MOUNT = re.compile(
    rf"motor\s*(?:mount(?:ing)?|bolt|holes?|screws?)\s*(?:pattern|spacing|holes?)?\s*(?:of|:|=|is)?\s*{_NUM}\s*(?:mm\s*)?[x×]\s*{_NUM}(?:\s*mm)?"
    rf"|{_NUM}\s*(?:mm\s*)?[x×]\s*{_NUM}\s*(?:mm\s*)?(?:motor\s*)?(?:mount(?:ing)?|bolt)\s*(?:pattern|holes?)?"
)
MOTOR_CLASS = re.compile(r"\b(\d{2})(?:\d{2}(?:\.\d)?|xx)\b(?:\s*\d{3,4}\s*kv)?(?:\s+brushless)?\s+motors?\b|\bmotors?\s*(?:of|:|=|are|is|size)?\s*(\d{2})(?:\d{2}(?:\.\d)?|xx)\b")
PROPS = re.compile(
    rf"{_NUM}\s*-?\s*(?:inch(?:es)?|in\b|\"|'')\s*-?\s*(?:(?!(?:wide|thick|long|tall|high|deep)\b)[a-z]+\s+)?(?:props?|propellers?|quad(?:copter)?s?|frames?|drones?|builds?)\b"
    rf"|(?:props?|propellers?)\s*(?:of|:|=|are|is|size)?\s*{_NUM}\s*-?\s*(?:inch(?:es)?|in\b|\"|'')"
    r"|\b([1-9])(\d)\d{2,3}\s*(?:(?:bi|tri|quad)-?blade\s+)?props?\b"
)
ARM = re.compile(
    rf"{_NUM}\s*{_UNIT}?\s*(thick|wide)\s+arms?\b"
    # "make the arms 4 mm" (their thickness), but not "arms 80 mm long" nor "arms 160 mm motor-to-motor"
    rf"|\barms?\s+(?:that\s+are\s+|of\s+|at\s+|to\s+be\s+|to\s+|:\s*)?(?>{_NUM}\s*{_UNIT}?)(?:\s+(thick|wide))?"
    r"(?!\s*(?:[x×\d]|motor|diagonal|wheelbase|span|long|length|apart|tall|high|deep))"
    rf"|\barm\s+(thickness|width)\s*(?:of|:|=|is|to)?\s*{_NUM}\s*{_UNIT}?"
)
INNER = re.compile(
    rf"(?:inner|inside|internal|interior)\s*(?:size|dimensions?|space)?\s*(?:of|:|=|is)?\s*{_NUM}\s*(?:{_UNIT}\s*)?[x×]\s*{_NUM}(?:\s*(?:{_UNIT}\s*)?[x×]\s*{_NUM})?\s*{_UNIT}?"
    rf"|{_NUM}\s*(?:{_UNIT}\s*)?[x×]\s*{_NUM}(?:\s*(?:{_UNIT}\s*)?[x×]\s*{_NUM})?\s*{_UNIT}?\s*(?:inner|inside|internal|interior)"
)


def _blank(text: str, match: re.Match) -> str:
    """`text` with the match replaced by spaces (offsets stay valid for the later patterns)."""
    return text[:match.start()] + " " * (match.end() - match.start()) + text[match.end():]


def _quadcopter_vocabulary(lower: str, dims: dict, quantities: dict, features: dict) -> str:
    """Props, stacks, motors and arms of a quadcopter, read and blanked; returns the rest."""
    for match in MOTOR_MOUNT.finditer(lower):
        a, b = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        features["motor_mount"] = [float(a), float(b)]
        lower = _blank(lower, match)
    for match in FC_STACK.finditer(lower):
        if match.group(1) == match.group(2):
            features["fc_mount"] = 30.5 if match.group(1) in ("30", "30.5") else float(match.group(1))
            lower = _blank(lower, match)
    for match in MOTOR_CLASS.finditer(lower):
        features["motor_class"] = int(match.group(1) or match.group(2))
        lower = _blank(lower, match)
    for match in PROPS.finditer(lower):
        value = match.group(1) or match.group(2)
        inches = float(value) if value else int(match.group(3)) + int(match.group(4)) / 10
        features["prop_in"] = inches
        quantities["prop_in"] = [inches, "in"]
        lower = _blank(lower, match)
    for match in ARM.finditer(lower):
        g = match.groups()
        if g[0]:
            value, unit, word = g[0], g[1], g[2]
        elif g[3]:
            value, unit, word = g[3], g[4], g[5] or "thick"  # "make the arms 4 mm": their thickness
        else:
            value, unit, word = g[7], g[8], "wide" if g[6] == "width" else "thick"
        axis = "arm_width" if word == "wide" else "thickness"
        dims[axis] = _mm(value, unit)
        quantities[axis] = [float(value), _unit_name(unit)]
        lower = _blank(lower, match)
    return lower


def model_type_of(text: str) -> str | None:
    """The template a text asks for ("a small quadcopter" → "quadcopter_frame"), or None."""
    lower = (text or "").lower()
    return next((name for name, rx in MODEL_KEYWORDS if re.search(rx, lower)), None)


def requirements_from_prompt(prompt: str, *, known_type: str | None = None) -> dict:
    """What to model, its sizes in mm (`dimensions`), its `features`, and each size as written
    (`quantities`: axis → [value, unit]). `known_type` is the model an earlier message asked
    for, used when this text names none ("make the arms 4 mm" after "a quadcopter frame")."""
    text = " ".join((prompt or "").split())
    lower = text.lower()
    model_type = model_type_of(lower) or known_type
    dims: dict[str, float] = {}
    quantities: dict[str, list] = {}
    features: dict = {}

    def put(axis: str, value: str, unit: str | None, *, override: bool = False) -> None:
        if override or axis not in dims:
            dims[axis] = _mm(value, unit)
            quantities[axis] = [float(value), _unit_name(unit)]

    # "seat height of 45 cm", "45 cm seat height": read first, and blanked so it is not the overall height.
    seat = re.search(rf"seat[- ]?(?:height|high)\s*(?:of|:|=|is)?\s*{_NUM}\s*{_UNIT}?|{_NUM}\s*{_UNIT}?\s*seat[- ]?(?:height|high)", lower)
    if seat:
        value, unit = (seat.group(1), seat.group(2)) if seat.group(1) else (seat.group(3), seat.group(4))
        put("seat_height", value, unit)
        lower = lower[:seat.start()] + " " + lower[seat.end():]
    for match in SCREW.finditer(lower):
        features.setdefault("screw", f"M{match.group(1)}")
        lower = _blank(lower, match)
    if model_type == "quadcopter_frame":
        lower = _quadcopter_vocabulary(lower, dims, quantities, features)
    if model_type == "enclosure_box" and (inner := INNER.search(lower)):
        g = inner.groups()
        values, units = (g[0], g[2], g[4]), (g[1], g[3], g[5])
        if not g[0]:
            values, units = (g[6], g[8], g[10]), (g[7], g[9], g[11])
        unit = next((u for u in reversed(units) if u), None)
        for axis, value in zip(["inner_width", "inner_depth", "inner_height"], values):
            if value:
                put(axis, value, unit)
        lower = _blank(lower, inner)
    words = "|".join(AXIS_WORDS.values())
    # "120 x 80 x 40 mm" → width, depth, height
    triple = re.search(rf"{_NUM}\s*[x×]\s*{_NUM}(?:\s*[x×]\s*{_NUM})?\s*{_UNIT}?", lower)
    if triple:
        unit = triple.group(4)
        values = [v for v in triple.groups()[:3] if v]
        for axis, value in zip(["width", "depth", "height"] if len(values) == 3 else ["width", "depth"], values):
            put(axis, value, unit, override=True)
    # "120 mm wide", "3 mm thick arms", "160 mm motor-to-motor"
    for match in re.finditer(rf"{_NUM}\s*{_UNIT}?\s*(?:in\s+)?({words})\b", lower):
        axis = _axis(match.group(3))
        if axis:
            put(axis, match.group(1), match.group(2))
    # "width of 120 mm", "height: 40mm", "diameter 12 cm"
    for match in re.finditer(rf"\b({words})\b\s*(?:of|:|=|is)?\s*{_NUM}\s*{_UNIT}?", lower):
        axis = _axis(match.group(1))
        if axis:
            put(axis, match.group(2), match.group(3))
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
    return {"model_type": model_type, "dimensions": dims, "features": features, "quantities": quantities, "prompt": text}
