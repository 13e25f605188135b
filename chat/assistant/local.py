"""The `local` assistant backend: offline and deterministic.

`requirements_extract` reads what a person asked for (this message and their earlier ones) with
the pipeline's prompt reader (pipeline.engines.scad.requirements), resolves it on the template
that will build it (so every default it states is the one the model will have), and writes the
requirements seed 001 shows, plus the sizes with their units, the standard parts to buy with
search terms, what was assumed and what a designer would still ask.
"""

import math
import re

from mozukai_hub.api.errors import ApplicationError
from pipeline.engines.scad.requirements import SUPPORTED, UNIT_MM, requirements_from_prompt
from pipeline.engines.scad.templates import TEMPLATES

from .checks import mesh_check
from .clean import requirements_clean
from .parts import fmt as _fmt
from .parts import standard_components, suggested_prop
from .scad import (
    BOARD_CLEARANCE_MM, DIMENSION_FIELDS, FEATURE_KEYS, INNER_FIELDS, ScadDesign, board_inner_mm, board_of, design_reply,
    scad_design,
)

__all__ = [
    "requirements_extract", "requirements_reply", "requirements_clean", "scad_design", "design_reply", "mesh_check", "ScadDesign",
]

MATERIALS = [
    ("carbon-fibre nylon", r"pa-?cf|cf[- ]?nylon|carbon[- ]fib(?:er|re)[- ](?:filled |reinforced )?nylon"),
    ("PETG", r"\bpetg\b"),
    ("PLA", r"\bpla\b"),
    ("ABS", r"\babs\b"),
    ("ASA", r"\basa\b"),
    ("TPU", r"\btpu\b"),
    ("nylon", r"\bnylon\b|\bpa(?:6|12)?\b"),
    ("resin", r"\bresin\b"),
    ("polycarbonate", r"polycarbonate|\bpc\b"),
]
USES = [
    ("racing", r"\brac(?:e|er|ing)\b"),
    ("freestyle flying", r"freestyle"),
    ("cinematic filming", r"cinematic|cinewhoop|filming|film\b|camera platform"),
    ("long-range flying", r"long[- ]range"),
    ("indoor flying", r"indoor|whoop"),
]
NOUNS = {
    "quadcopter_frame": "quadcopter frame", "enclosure_box": "enclosure", "bracket": "bracket", "bonsai_pot": "bonsai pot",
    "planter_tray": "planter tray", "chair": "chair", "table": "table", "shelf": "bookcase", "vase": "vase",
}


# --- reading the conversation -----------------------------------------------------------------


def _user_texts(content: str, history: list[dict]) -> list[str]:
    texts = []
    for turn in history or []:
        if isinstance(turn, dict) and str(turn.get("role") or "user") == "user" and str(turn.get("content") or "").strip():
            texts.append(str(turn["content"]))
    if str(content or "").strip():
        texts.append(str(content))
    return texts


def _read_conversation(texts: list[str]) -> tuple[str | None, dict, dict, dict]:
    """(template, sizes in mm, features, sizes as written) over the user's messages, oldest
    first: a later message refines an earlier one ("make the arms 4 mm"), and a message asking
    for another kind of model starts over."""
    template: str | None = None
    dims: dict = {}
    features: dict = {}
    quantities: dict = {}
    for text in texts:
        parsed = requirements_from_prompt(text, known_type=template)
        found = parsed["model_type"]
        if found and found != template:
            if template is not None:
                dims, features, quantities = {}, {}, {}
            template = found
        new_dims, new_features = parsed["dimensions"], parsed["features"]
        for axis in ("width", "depth", "height", "length"):  # outer and inner sizes replace each other
            if axis in new_dims:
                dims.pop(f"inner_{axis}", None)
                quantities.pop(f"inner_{axis}", None)
            if f"inner_{axis}" in new_dims:
                dims.pop(axis, None)
                quantities.pop(axis, None)
        if "prop_in" in new_features and "span" not in new_dims:  # "make it for 5 inch props": sized for them
            dims.pop("span", None)
            quantities.pop("span", None)
        dims.update(new_dims)
        features.update(new_features)
        quantities.update(parsed["quantities"])
    return template, dims, features, quantities


def _material(text: str) -> str | None:
    return next((name for name, rx in MATERIALS if re.search(rx, text)), None)


def _use(text: str) -> str:
    return next((name for name, rx in USES if re.search(rx, text)), "hobby use")


# --- the parts to buy -------------------------------------------------------------------------


# --- the words --------------------------------------------------------------------------------


def _size_adjective(template: str, p: dict) -> str:
    if template == "quadcopter_frame":
        span = p["span"]
        return "tiny" if span < 110 else "small" if span < 200 else "mid-size" if span < 300 else "large"
    return ""


def _primary_function(template: str, p: dict | None, features: dict, text: str, board) -> str:
    light = "lightweight " if re.search(r"light(?:weight)?|ultra ?light", text) else ""
    if template == "quadcopter_frame":
        size = _size_adjective(template, p) + " " if p else ""
        return f"A {light}{size}quadcopter frame for {_use(text)}"
    if template == "enclosure_box":
        return f"An enclosure for {'a ' + board[0] if board else 'electronics'}" + (" with a screw-on lid" if features.get("lid") else "")
    if template == "chair" and features.get("backrest") is False:
        return "A stool"
    if template == "vase":
        kind = features.get("vessel", "vase")
        return {"mug": "A mug with a handle", "cup": "A cup"}.get(kind, "A vase")
    article = "An" if NOUNS[template][0] in "aeiou" else "A"
    return f"{article} {light}{NOUNS[template]}"


def _description(template: str, p: dict) -> str:
    """The model in words. Written so that reading it back gives the same model (the stack and
    bolt pattern are named, sizes a reader could take for another one are not)."""
    if template == "quadcopter_frame":
        return (
            f"A one-piece X frame printed flat: a square centre plate with holes for a {_fmt(p['fc'])}×{_fmt(p['fc'])} mm "
            f"flight-controller stack, four arms set at right angles, and round motor pads at their ends with a "
            f"{_fmt(p['motor_a'])}×{_fmt(p['motor_b'])} mm motor bolt pattern."
        )
    if template == "enclosure_box":
        text = f"An open box with a screw post in each inside corner for {p['screw']} screws"
        return text + (", and a flat lid with clearance holes over the posts, printed beside it." if p["lid"] else ".")
    if template == "bracket":
        return "An L-shaped bracket: a base plate and an upright joined by a gusset, with two screw holes in each leg."
    if template == "bonsai_pot":
        shape = "rectangular" if "depth" in p and p["depth"] != p["width"] else "round, slightly tapered"
        holes = int(p.get("holes") or 0)
        return f"A {shape} pot on low feet" + (f" with {holes} drainage hole{'s' if holes > 1 else ''}." if holes else ", without drainage holes.")
    if template == "planter_tray":
        return "A shallow tray with rounded corners to stand planters in."
    if template == "chair":
        return "A seat on four square legs" + (", the back legs rising to carry a backrest." if p.get("backrest") else ".")
    if template == "table":
        return "A flat top on four square legs joined by aprons under the top."
    if template == "shelf":
        return f"Two sides, a back and {p['shelves'] + 1} boards: {p['shelves']} shelf spaces."
    if template == "vase":
        return {"mug": "A hollow, slightly tapered mug with a handle.", "cup": "A hollow, slightly tapered cup."}.get(
            p.get("vessel", "vase"), "A hollow vase: a base, a wide belly, a narrow neck and a flared lip.")
    return ""


def _custom_description(template: str, stated: list[dict], features: dict) -> str:
    """What the person asked for, in words that read back to the same sizes."""
    phrases = []
    for dim in stated:
        value = f"{_fmt(dim['value'])} {dim['unit']}"
        phrase = {
            "motor_to_motor": f"{value} motor-to-motor", "arm_thickness": f"{value} thick arms", "arm_width": f"{value} wide arms",
            "prop_size": f"{value} props", "wall_thickness": f"{value} thick walls", "thickness": f"{value} thick",
            "seat_height": f"seat height {value}", "seat_thickness": f"{value} thick seat", "top_thickness": f"{value} thick top",
            "board_thickness": f"{value} thick boards", "width": f"{value} wide", "depth": f"{value} deep",
            "height": f"{value} tall", "length": f"{value} long",
        }.get(dim["name"])
        if dim["name"].startswith("inner_"):
            continue
        if phrase:
            phrases.append(phrase)
    inner = [d for d in stated if d["name"].startswith("inner_")]
    if inner:
        phrases.append("inner size " + " x ".join(f"{_fmt(d['value'])} {d['unit']}" for d in inner))
    if template == "quadcopter_frame" and features.get("fc_mount"):
        phrases.append(f"a {_fmt(features['fc_mount'])}x{_fmt(features['fc_mount'])} stack")
    if features.get("screw"):
        phrases.append(f"{features['screw']} screws")
    if features.get("lid"):
        phrases.append("a lid")
    noun = NOUNS[template]
    if template == "vase":
        noun = features.get("vessel", "vase")
    elif template == "chair" and features.get("backrest") is False:
        noun = "stool"
    if not phrases:
        return f"A printed {noun}; no sizes given yet, so it uses the sizes listed as assumptions."
    return f"A printed {noun}. Use " + ", ".join(phrases) + "."


def _dimension(name: str, label: str, value: float, unit: str, source: str) -> dict:
    return {"name": name, "label": label, "value": round(float(value), 3), "unit": unit,
            "value_mm": round(float(value) * UNIT_MM[unit], 3), "source": source}


def _dimensions(template: str, p: dict | None, dims: dict, quantities: dict) -> list[dict]:
    fields = [(name, key, param, label) for name, key, param, label in DIMENSION_FIELDS[template]]
    if template == "enclosure_box" and any(k.startswith("inner_") for k in dims):
        fields = [(name, key, None, label) for name, key, label in INNER_FIELDS] + fields[3:]
    if template == "bonsai_pot" and p and p.get("depth") != p.get("width"):
        fields.insert(1, ("depth", "depth", "depth", "depth"))
    if template == "chair" and p and not p.get("backrest"):
        fields = [f for f in fields if f[0] != "seat_height"]
    out = []
    for name, key, param, label in fields:
        if key in quantities:
            value, unit = quantities[key]
            out.append(_dimension(name, label, value, unit, "stated"))
        elif key == "height" and template == "chair" and p and not p.get("backrest") and "seat_height" in quantities:
            value, unit = quantities["seat_height"]
            out.append(_dimension(name, label, value, unit, "stated"))
        elif p is not None:
            if param is None:  # an inner size the template derives from the outer one
                inner = {"inner_width": p["width"] - 2 * p["wall"], "inner_depth": p["depth"] - 2 * p["wall"],
                         "inner_height": p["height"] - p["wall"]}[key]
                out.append(_dimension(name, label, inner, "mm", "assumed"))
            else:
                out.append(_dimension(name, label, p[param], "mm", "assumed"))
    if template == "quadcopter_frame" and "prop_in" in quantities:
        out.append(_dimension("prop_size", "prop size", quantities["prop_in"][0], "in", "stated"))
    return out


def _quadcopter_notes(p: dict, features: dict, text: str) -> tuple[list[str], list[str]]:
    assumed, questions = [], []
    if not features.get("fc_mount"):
        assumed.append(f"a {_fmt(p['fc'])}×{_fmt(p['fc'])} mm flight-controller stack on {p['fc_screw']} screws")
        questions.append("Which flight-controller stack will you use: 20×20 mm or 30.5×30.5 mm?")
    if not features.get("motor_class") and not features.get("motor_mount"):
        assumed.append(f"{p['motor_class']}xx motors with a {_fmt(p['motor_a'])}×{_fmt(p['motor_b'])} mm {p['motor_screw']} bolt pattern")
        questions.append("Which motors will you fly? 22xx/23xx motors take a 16×19 mm M3 pattern, 14xx a 12×12 mm M2 one.")
    if not p.get("prop_in"):
        prop = suggested_prop(p["span"])
        assumed.append(f"{_fmt(prop)}-inch props, the largest that clear each other at {_fmt(p['span'])} mm motor-to-motor")
    else:
        gap = p["span"] / math.sqrt(2) - p["prop_in"] * 25.4
        assumed.append(f"{_fmt(p['prop_in'])}-inch props leave {gap:.0f} mm between neighbouring tips")
    return assumed, questions


def _notes(template: str, p: dict, features: dict, dims: dict, dimensions: list[dict], text: str, board) -> tuple[list[str], list[str]]:
    """(assumptions, open questions)."""
    assumptions, questions = [], []
    assumed_sizes = [d for d in dimensions if d["source"] == "assumed"]
    stated_sizes = [d for d in dimensions if d["source"] == "stated"]
    if assumed_sizes:
        assumptions.append(", ".join(f"{d['label']} {_fmt(d['value'])} mm" for d in assumed_sizes))
    if template == "quadcopter_frame":
        if "span" not in dims and p.get("prop_in"):
            assumptions.insert(0, f"motor-to-motor sized for {_fmt(p['prop_in'])}-inch props")
        more, asks = _quadcopter_notes(p, features, text)
        assumptions += more
        if "span" not in dims and not p.get("prop_in"):
            questions.insert(0, "How big should it be: the motor-to-motor distance, or the prop size (3-inch, 5-inch…)?")
        if "thickness" not in dims:
            questions.append("How thick should the arms be? 3 mm suits small frames; crash-prone frames want 4–5 mm.")
        questions += asks
    elif template == "enclosure_box":
        if board and not stated_sizes:
            assumptions.insert(0, f"sized for a {board[0]} ({_fmt(board[1][0])} × {_fmt(board[1][1])} mm) with {_fmt(BOARD_CLEARANCE_MM)} mm clearance around it")
        if not stated_sizes and not board:
            questions.append("What has to fit inside, or what inner size do you need?")
        if not features.get("lid"):
            assumptions.append("no lid")
            questions.append("Do you want a lid screwed onto the corner posts?")
        if not features.get("screw"):
            assumptions.append(f"{p['screw']} self-tapping screws into the posts")
    elif template == "bracket":
        if not stated_sizes:
            questions.append("What will it hold, and how big should its legs be?")
        if not features.get("screw"):
            questions.append("Which screws will fix it: M3, M4 or M5?")
    else:
        if not stated_sizes:
            questions.append(f"How big should the {NOUNS[template]} be?")
    if not _material(text):
        questions.append("What will you print it in (PLA, PETG, nylon…)?")
    return assumptions, questions


def requirements_extract(content: str, history: list[dict]) -> dict:
    """The requirements of what the user asks for in `content`, read together with their earlier
    messages in `history` ([{role, content}], oldest first; only the user's are read)."""
    texts = _user_texts(content, history)
    text = " ".join(" ".join(texts).split()).lower()
    template, dims, features, quantities = _read_conversation(texts)
    material = _material(text)
    if template is None:
        return {
            "model_type": None,
            "primary_function": "",
            "description_natural_language": "",
            "standard_components": standard_components(None, None, features, None, text),
            "custom_description": "",
            "dimensions": [],
            "features": {},
            "material": material,
            "open_questions": ["What should I design? I can make: " + ", ".join(NOUNS[t] + "s" for t in SUPPORTED) + "."],
            "assumptions": [],
        }
    board = board_of(text) if template == "enclosure_box" else None
    if board and not any(k in dims for k in ("width", "depth", "height", "length", "inner_width", "inner_depth", "inner_height")):
        dims.update(zip(("inner_width", "inner_depth", "inner_height"), board_inner_mm(board)))
    design_features = {k: v for k, v in features.items() if k in FEATURE_KEYS}
    problem = None
    try:
        parameters = TEMPLATES[template](dims, design_features).parameters
    except ApplicationError as exc:
        parameters, problem = None, exc.message
    dimensions = _dimensions(template, parameters, dims, quantities)
    if board and parameters and not any(d["source"] == "stated" for d in dimensions):
        for dim in dimensions:  # the board sets these; they are stated by what goes inside
            if dim["name"].startswith("inner_"):
                dim["source"] = "derived"
    if parameters is None:
        assumptions = []
        questions = [f"{problem[0].upper()}{problem[1:]} What should it be instead?"]
    else:
        assumptions, questions = _notes(template, parameters, design_features, dims, dimensions, text, board)
    stated = [d for d in dimensions if d["source"] == "stated"]
    return {
        "model_type": template,
        "primary_function": _primary_function(template, parameters, design_features, text, board),
        "description_natural_language": _description(template, parameters) if parameters else "",
        "standard_components": standard_components(template, parameters, design_features, board, text),
        "custom_description": _custom_description(template, stated, design_features),
        "dimensions": dimensions,
        "features": design_features,
        "material": material,
        "open_questions": questions,
        "assumptions": assumptions,
    }


def _sentence_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def requirements_reply(requirements: dict) -> str:
    """What was understood, what was assumed and what is still open, as a person would write it."""
    if not requirements.get("model_type"):
        questions = requirements.get("open_questions") or []
        return "I couldn't tell what you'd like me to design. " + " ".join(questions)
    sentences = []
    primary = requirements.get("primary_function") or NOUNS.get(requirements["model_type"], "model")
    sentences.append(f"Got it: {primary[0].lower()}{primary[1:]}.")
    stated = [d for d in requirements.get("dimensions") or [] if d.get("source") == "stated"]
    if stated:
        sentences.append("From what you wrote I took " + _sentence_list(
            [f"{d.get('label') or d['name'].replace('_', ' ')} {_fmt(d['value'])} {d['unit']}" for d in stated]) + ".")
    if requirements.get("description_natural_language"):
        sentences.append(requirements["description_natural_language"])
    assumptions = requirements.get("assumptions") or []
    if assumptions:
        sentences.append("Where you didn't say, I assumed " + "; ".join(assumptions) + ".")
    parts = requirements.get("standard_components") or []
    if parts:
        sentences.append("Parts to buy: " + "; ".join(p["name"] for p in parts) + ".")
    if requirements.get("material"):
        sentences.append(f"You'll print it in {requirements['material']}.")
    questions = requirements.get("open_questions") or []
    if not requirements.get("description_natural_language"):  # the sizes asked for cannot be built
        sentences.append(" ".join(questions))
    elif questions:
        sentences.append("Before I build it, a few questions: " + " ".join(questions))
        sentences.append("Or press “Generate model” and I'll build it with these assumptions; you can change any size afterwards.")
    else:
        sentences.append("I have what I need: press “Generate model” to build it.")
    return " ".join(sentences)


