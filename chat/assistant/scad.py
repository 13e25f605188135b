"""Requirements → a parametric OpenSCAD design on the pipeline's templates
(pipeline.engines.scad.templates), with the facts the rendered mesh must show.

What the design honours, strongest first: the `dimensions` list (sizes a person stated or edited
on the requirements card), `features` (prop size, stack, motor, screws, lid…), then the sizes
and parts written in the text fields and the standard components' names and search terms.
"""

import math
import re
from dataclasses import asdict, dataclass, field

from mozukai_hub.api.errors import ApplicationError
from pipeline.engines.scad.requirements import SUPPORTED, UNIT_MM, model_type_of, requirements_from_prompt
from pipeline.engines.scad.templates import TEMPLATES

# Public dimension names (what the requirements card shows) per template: (name, template size,
# resolved parameter, words for a person). Sizes a template derives stay out of the list.
DIMENSION_FIELDS: dict[str, list[tuple[str, str, str, str]]] = {
    "quadcopter_frame": [
        ("motor_to_motor", "span", "span", "motor-to-motor distance (diagonal)"),
        ("arm_thickness", "thickness", "arm_t", "arm thickness"),
        ("arm_width", "arm_width", "arm_w", "arm width"),
    ],
    "enclosure_box": [
        ("width", "width", "width", "outer width"),
        ("depth", "depth", "depth", "outer depth"),
        ("height", "height", "height", "outer height"),
        ("wall_thickness", "thickness", "wall", "wall thickness"),
    ],
    "bracket": [
        ("width", "width", "width", "width"),
        ("length", "length", "length", "base length"),
        ("height", "height", "height", "upright height"),
        ("thickness", "thickness", "thick", "thickness"),
    ],
    "bonsai_pot": [
        ("width", "width", "width", "width"),
        ("height", "height", "height", "height"),
        ("wall_thickness", "thickness", "wall", "wall thickness"),
    ],
    "planter_tray": [
        ("width", "width", "width", "width"),
        ("depth", "depth", "depth", "depth"),
        ("height", "height", "height", "height"),
        ("wall_thickness", "thickness", "wall", "wall thickness"),
    ],
    "chair": [
        ("width", "width", "width", "width"),
        ("depth", "depth", "depth", "depth"),
        ("height", "height", "height", "height"),
        ("seat_height", "seat_height", "seat_h", "seat height"),
        ("seat_thickness", "thickness", "seat_t", "seat thickness"),
    ],
    "table": [
        ("width", "width", "width", "width"),
        ("depth", "depth", "depth", "depth"),
        ("height", "height", "height", "height"),
        ("top_thickness", "thickness", "top_t", "top thickness"),
    ],
    "shelf": [
        ("width", "width", "width", "width"),
        ("depth", "depth", "depth", "depth"),
        ("height", "height", "height", "height"),
        ("board_thickness", "thickness", "board", "board thickness"),
    ],
    "vase": [
        ("width", "width", "width", "width"),
        ("height", "height", "height", "height"),
        ("wall_thickness", "thickness", "wall", "wall thickness"),
    ],
}
# An enclosure sized by what must fit inside.
INNER_FIELDS = [
    ("inner_width", "inner_width", "inner width"),
    ("inner_depth", "inner_depth", "inner depth"),
    ("inner_height", "inner_height", "inner height"),
]
# The template sizes each template reads.
TEMPLATE_SIZES: dict[str, set[str]] = {
    "quadcopter_frame": {"span", "thickness", "arm_width"},
    "enclosure_box": {"width", "depth", "height", "length", "thickness", "inner_width", "inner_depth", "inner_height", "inner_length"},
    "bracket": {"width", "length", "depth", "height", "thickness"},
    "bonsai_pot": {"width", "depth", "height", "thickness"},
    "planter_tray": {"width", "length", "depth", "height", "thickness"},
    "chair": {"width", "depth", "height", "seat_height", "thickness"},
    "table": {"width", "length", "depth", "height", "thickness"},
    "shelf": {"width", "length", "depth", "height", "thickness"},
    "vase": {"width", "height", "thickness"},
}
# Names a person or another model may give a size (normalised: lower case, "_" for spaces and dashes).
SIZE_ALIASES = {
    "motor_to_motor": "span", "motor_spacing": "span", "wheelbase": "span", "diagonal": "span", "span": "span",
    "frame_size": "span", "arm_thickness": "thickness", "thickness": "thickness", "wall_thickness": "thickness",
    "wall": "thickness", "seat_thickness": "thickness", "top_thickness": "thickness", "board_thickness": "thickness",
    "arm_width": "arm_width", "width": "width", "diameter": "width", "depth": "depth", "height": "height",
    "length": "length", "seat_height": "seat_height", "inner_width": "inner_width", "inner_depth": "inner_depth",
    "inner_height": "inner_height", "inner_length": "inner_width",
}
PROP_NAMES = {"prop_size", "prop_diameter", "props", "prop", "propeller_size", "propellers"}
TEXT_FIELDS = ("custom_description", "primary_function", "description_natural_language")
FEATURE_KEYS = {
    "prop_in", "fc_mount", "fc_screw", "motor_class", "motor_mount", "motor_screw", "screw", "lid",
    "drainage_holes", "shape", "shelves", "backrest", "vessel",
}


# Boards an enclosure is often made for: (name, pattern, board size w × d × tallest part, mm).
BOARDS = [
    ("Raspberry Pi Zero", r"(?:raspberry ?)?pi ?zero", (65.0, 30.0, 6.0)),
    ("Raspberry Pi Pico", r"(?:raspberry ?)?pi ?pico|\bpico\b", (51.0, 21.0, 4.0)),
    ("Raspberry Pi 4", r"raspberry ?pi|\brpi\b", (85.0, 56.0, 17.0)),
    ("Arduino Nano", r"arduino ?nano", (45.0, 18.0, 8.0)),
    ("Arduino Uno", r"arduino", (68.6, 53.4, 15.0)),
    ("ESP32 DevKit", r"esp ?32", (55.0, 28.0, 13.0)),
]
BOARD_CLEARANCE_MM = 3.0  # each side; and 10 mm above the tallest part


def board_of(text: str) -> tuple[str, tuple[float, float, float]] | None:
    """The board a text names ("an enclosure for a Raspberry Pi"), with its size."""
    lower = text.lower()
    return next(((name, size) for name, rx, size in BOARDS if re.search(rx, lower)), None)


def board_inner_mm(board) -> tuple[float, float, float]:
    w, d, h = board[1]
    return round(w + 2 * BOARD_CLEARANCE_MM, 1), round(d + 2 * BOARD_CLEARANCE_MM, 1), round(h + 10, 1)


@dataclass
class ScadDesign:
    source: str
    parameters: dict
    expected_bbox_mm: tuple[float, float, float]
    expected: dict
    notes: list[str] = field(default_factory=list)
    template: str = ""

    def as_dict(self) -> dict:
        data = asdict(self)
        data["expected_bbox_mm"] = list(self.expected_bbox_mm)
        return data


def size_key(name: str) -> str | None:
    """The template size a dimension name stands for ("Motor-to-motor" → "span"), or None."""
    return SIZE_ALIASES.get(re.sub(r"[\s-]+", "_", str(name).strip().lower()).removesuffix("_mm"))


def dimension_mm(entry: dict) -> float:
    """A dimension's size in mm: its `value_mm`, else `value` in its `unit` (mm when absent)."""
    if entry.get("value_mm") is not None:
        return float(entry["value_mm"])
    return float(entry["value"]) * UNIT_MM[str(entry.get("unit") or "mm").lower()]


def template_for(requirements: dict) -> str:
    """The template for the requirements: from `model_type` ("drone", "quadcopter_frame",
    "enclosure"), else from the text fields."""
    named = str(requirements.get("model_type") or "").replace("_", " ")
    found = model_type_of(named) if named else None
    if found is None:
        found = model_type_of(" ".join(str(requirements.get(key) or "") for key in TEXT_FIELDS))
    if found is None:
        raise ApplicationError(
            "I can't tell what to model from these requirements. I make: "
            + ", ".join(t.replace("_", " ") for t in SUPPORTED) + ".",
            code="unsupported_model",
        )
    return found


def _component_text(requirements: dict) -> str:
    parts = []
    for component in requirements.get("standard_components") or []:
        if isinstance(component, dict):
            parts += [str(component.get("name") or ""), str(component.get("search_term") or "")]
    return ". ".join(p for p in parts if p)


def design_inputs(requirements: dict) -> tuple[str, dict, dict, list[str]]:
    """(template, sizes in mm, features, notes) for the requirements."""
    template = template_for(requirements)
    dims: dict[str, float] = {}
    features: dict = {}
    notes: list[str] = []
    # The text: the custom description first, as the part most specific to this model.
    for text in (str(requirements.get(key) or "") for key in TEXT_FIELDS):
        if not text.strip():
            continue
        parsed = requirements_from_prompt(text, known_type=template)
        for key, value in parsed["dimensions"].items():
            if key in TEMPLATE_SIZES[template]:
                dims.setdefault(key, value)
        for key, value in parsed["features"].items():
            features.setdefault(key, value)
    # The parts to buy: the stack, motors and screws the model must take.
    from_parts = requirements_from_prompt(_component_text(requirements), known_type=template)["features"]
    board = board_of(" ".join([_component_text(requirements), *(str(requirements.get(k) or "") for k in TEXT_FIELDS)]))
    # The dimensions list: what was stated or edited on the card wins over the text.
    listed: dict[str, float] = {}
    for entry in requirements.get("dimensions") or []:
        name = str(entry.get("name") or "")
        key = size_key(name)
        if re.sub(r"[\s-]+", "_", name.lower()) in PROP_NAMES:
            if template == "quadcopter_frame":
                features["prop_in"] = round(dimension_mm(entry) / 25.4, 2)
            else:
                notes.append(f"A {template.replace('_', ' ')} has no propellers; the size “{name}” was not used.")
            continue
        if key is None or key not in TEMPLATE_SIZES[template] or (template == "quadcopter_frame" and key == "width"):
            notes.append(f"A {template.replace('_', ' ')} has no size called “{name}”; it was not used.")
            continue
        listed[key] = round(dimension_mm(entry), 3)
    if any(k.startswith("inner_") for k in listed):  # inner sizes asked on the card replace outer ones from the text
        for key in ("width", "depth", "height", "length"):
            if f"inner_{key}" in listed:
                dims.pop(key, None)
    if any(k in listed for k in ("width", "depth", "height", "length")):
        for key in ("width", "depth", "height", "length"):
            if key in listed:
                dims.pop(f"inner_{key}", None)
    dims.update(listed)
    for key, value in from_parts.items():
        # Props on the parts list size a frame only when no motor-to-motor distance is given:
        # a suggested prop must not block a frame made smaller on the card.
        if not (key == "prop_in" and "span" in dims):
            features.setdefault(key, value)
    if template == "enclosure_box" and board and not any(k in dims for k in ("width", "depth", "height", "length")):
        for key, value in zip(("inner_width", "inner_depth", "inner_height"), board_inner_mm(board)):
            dims.setdefault(key, value)
    for key, value in (requirements.get("features") or {}).items():
        if key in FEATURE_KEYS and value is not None:
            features[key] = value
    return template, dims, features, notes


def _expected(template: str, p: dict, features: dict) -> dict:
    if template == "quadcopter_frame":
        return {"motor_spacing_mm": p["span"], "arm_thickness_mm": p["arm_t"], "arm_width_mm": p["arm_w"],
                "motor_pad_diameter_mm": p["motor_d"], "fc_mount_mm": p["fc"], "plate_mm": p["plate"]}
    if template == "enclosure_box":
        return {"inner_width_mm": round(p["width"] - 2 * p["wall"], 3), "inner_depth_mm": round(p["depth"] - 2 * p["wall"], 3),
                "inner_height_mm": round(p["height"] - p["wall"], 3), "wall_thickness_mm": p["wall"],
                "floor_thickness_mm": p["wall"], "lid": bool(p["lid"])}
    if template == "bracket":
        return {"thickness_mm": p["thick"]}
    return {}


def _design_notes(template: str, p: dict) -> list[str]:
    if template == "quadcopter_frame":
        notes = [f"Motor centres sit {p['span']:g} mm apart diagonally ({p['span'] / math.sqrt(2):.1f} mm between neighbours)."]
        if "prop_in" in p:
            gap = p["span"] / math.sqrt(2) - p["prop_in"] * 25.4
            notes.append(f"{p['prop_in']:g}-inch props leave {gap:.0f} mm between neighbouring tips.")
        return notes
    if template == "enclosure_box":
        return [f"Inside: {p['width'] - 2 * p['wall']:g} × {p['depth'] - 2 * p['wall']:g} × {p['height'] - p['wall']:g} mm."]
    return []


def scad_design(requirements: dict) -> ScadDesign:
    """The OpenSCAD source for the requirements, its resolved parameters, the bounding box it
    renders to (x, y, z mm, Z up) and the facts mesh_check verifies. Raises ApplicationError
    (`unsupported_model`, `bad_dimensions`) when there is nothing sound to build."""
    template, dims, features, notes = design_inputs(requirements)
    model = TEMPLATES[template](dims, features)
    bbox = tuple(round(float(v), 3) for v in model.bbox_mm)
    return ScadDesign(
        source=model.scad, parameters=model.parameters, expected_bbox_mm=bbox,
        expected=_expected(template, model.parameters, features), notes=notes + _design_notes(template, model.parameters),
        template=template,
    )


def _size(values) -> str:
    return " × ".join(f"{round(float(v), 1):g}" for v in values)


CHECK_WORDS = {
    "motor_spacing_mm": "motor centres {measured} mm apart diagonally (asked {expected} mm)",
    "arm_thickness_mm": "arms {measured} mm thick (asked {expected} mm)",
    "arm_width_mm": "arms {measured} mm wide (asked {expected} mm)",
    "motor_pad_diameter_mm": "motor pads {measured} mm across (designed {expected} mm)",
    "fc_mount_mm": "stack holes on a {measured} mm square (asked {expected} mm)",
    "inner_width_mm": "inside width {measured} mm (asked {expected} mm)",
    "inner_depth_mm": "inside depth {measured} mm (asked {expected} mm)",
    "inner_height_mm": "inside height {measured} mm (asked {expected} mm)",
    "wall_thickness_mm": "walls {measured} mm thick (asked {expected} mm)",
    "floor_thickness_mm": "floor {measured} mm thick (asked {expected} mm)",
    "thickness_mm": "{measured} mm thick (asked {expected} mm)",
}


def _check_words(name: str, check: dict) -> str:
    measured = check.get("measured")
    shown = f"{measured:.2f}".rstrip("0").rstrip(".") if isinstance(measured, float) else str(measured)
    expected = check.get("expected")
    asked = f"{expected:g}" if isinstance(expected, (int, float)) else str(expected)
    return CHECK_WORDS.get(name, name.replace("_", " ") + " {measured} (expected {expected})").format(measured=shown, expected=asked)


def design_reply(design: ScadDesign | dict, report: dict) -> str:
    """What was built and what the checks found, in sentences."""
    data = design.as_dict() if isinstance(design, ScadDesign) else dict(design)
    name = str(data.get("template") or "model").replace("_", " ")
    sentences = [f"Here is your {name}, {_size(data['expected_bbox_mm'])} mm."]
    if report.get("error"):
        sentences.append(f"I could not check it: {report['error']}")
    elif report.get("ok"):
        sentences.append(
            f"I rendered it and checked the mesh: it is watertight and its bounding box, {_size(report['bbox_mm'])} mm, "
            "is within 2% of the design on every axis."
        )
    else:
        problems = []
        if not report.get("watertight"):
            problems.append("the mesh is not watertight, so a slicer may not print it as intended")
        if not report.get("bbox_within_2pct"):
            problems.append(f"its bounding box is {_size(report.get('bbox_mm') or [])} mm against {_size(data['expected_bbox_mm'])} mm designed")
        problems += [_check_words(k, c) for k, c in (report.get("checks") or {}).items() if not c.get("ok")]
        sentences.append("I rendered it, but the checks found a problem: " + "; ".join(problems) + ".")
    passed = [_check_words(k, c) for k, c in (report.get("checks") or {}).items() if c.get("ok")]
    if passed:
        sentences.append("Measured on the mesh: " + ", ".join(passed) + ".")
    if report.get("volume_mm3"):
        grams = report["volume_mm3"] / 1000 * 1.24
        sentences.append(f"It is {report['volume_mm3'] / 1000:.1f} cm³ of plastic, about {grams:.0f} g in PLA at full infill.")
    sentences += [n if n.endswith(".") else n + "." for n in data.get("notes") or []]
    return " ".join(sentences)
