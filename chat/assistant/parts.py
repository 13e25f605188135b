"""The catalogue of standard parts the assistant names, with the search terms to buy them by:
flight-controller stacks, motors by stator class, props, batteries and screws sized to the
model, and parts a message mentions (camera, GPS, boards, inserts…)."""

import math
import re

from pipeline.engines.scad.templates import SCREW_CLEARANCE_MM

# Parts a message may name: (pattern, name, search term).
MENTIONED_PARTS = [
    (r"\b(?:fpv )?camera\b", "FPV camera", "micro FPV camera 19 mm"),
    (r"\bvtx\b|video transmitter", "Video transmitter", "5.8 GHz FPV VTX 20x20"),
    (r"\bgps\b", "GPS module", "M10 GPS module drone"),
    (r"\breceiver\b|\belrs\b|\brx\b", "Radio receiver", "ELRS 2.4 GHz nano receiver"),
    (r"\bbuzzer\b", "Buzzer", "5 V drone buzzer"),
    (r"\bleds?\b", "LEDs", "5 V addressable LED strip"),
    (r"\bfan\b", "Cooling fan", "30 mm 5 V fan"),
    (r"\b18650\b", "18650 cells", "18650 Li-ion cell"),
    (r"heat[- ]?set inserts?|threaded inserts?", "Heat-set inserts", "brass heat-set threaded inserts"),
    (r"usb[- ]?c\b", "USB-C socket", "USB-C panel mount socket"),
    (r"\bswitch\b", "Switch", "panel mount rocker switch"),
]
STANDARD_PROPS = [2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0]
STANDARD_SCREW_LENGTHS = [4, 5, 6, 8, 10, 12, 16, 20, 25, 30]


def fmt(value: float) -> str:
    return f"{round(float(value), 2):g}"


def screw_length(grip_mm: float) -> int:
    """The shortest standard screw that passes `grip_mm` of material and bites 3 mm more."""
    return next((n for n in STANDARD_SCREW_LENGTHS if n >= grip_mm + 3), STANDARD_SCREW_LENGTHS[-1])


def suggested_prop(span: float) -> float:
    """The largest standard prop whose neighbours keep a tenth of a prop apart at this span."""
    fits = [p for p in STANDARD_PROPS if span / math.sqrt(2) >= p * 25.4 * 1.1]
    return fits[-1] if fits else STANDARD_PROPS[0]


def _battery(prop_in: float) -> tuple[str, str]:
    if prop_in <= 2.5:
        return "2S 450 mAh LiPo battery", "2S 450mAh LiPo XT30"
    if prop_in <= 3.5:
        return "4S 650 mAh LiPo battery", "4S 650mAh LiPo XT30"
    if prop_in <= 4:
        return "4S 850 mAh LiPo battery", "4S 850mAh LiPo XT60"
    if prop_in <= 5:
        return "6S 1100 mAh LiPo battery", "6S 1100mAh LiPo XT60"
    if prop_in <= 7:
        return "6S 1800 mAh LiPo battery", "6S 1800mAh LiPo XT60"
    return "6S 3000 mAh Li-ion pack", "6S 3000mAh Li-ion pack XT60"


def _quadcopter_parts(p: dict, features: dict) -> list[dict]:
    fc, a, b = p["fc"], p["motor_a"], p["motor_b"]
    prop = p.get("prop_in") or suggested_prop(p["span"])
    motor = f"{p['motor_class']}xx brushless motors" if p["motor_class"] else "brushless motors"
    motor_screw_len = screw_length(p["arm_t"])
    battery, battery_term = _battery(prop)
    return [
        {"name": f"Flight controller stack {fmt(fc)}×{fmt(fc)} mm", "search_term": f"{fmt(fc)}x{fmt(fc)} mm flight controller ESC stack {p['fc_screw']}"},
        {"name": f"4 × {motor} ({fmt(a)}×{fmt(b)} mm {p['motor_screw']} mount)",
         "search_term": (f"{p['motor_class']}xx " if p["motor_class"] else "") + f"brushless motor {fmt(a)}x{fmt(b)} mm {p['motor_screw']}"},
        {"name": f"4 × {fmt(prop)}-inch propellers", "search_term": f"{fmt(prop)} inch FPV propellers"},
        {"name": battery, "search_term": battery_term},
        {"name": f"16 × {p['motor_screw']} × {motor_screw_len} mm motor screws", "search_term": f"{p['motor_screw']}x{motor_screw_len} mm socket head screws"},
        {"name": f"{p['fc_screw']} stack standoffs and screws", "search_term": f"{p['fc_screw']} nylon standoffs screws {fmt(fc)}x{fmt(fc)} stack"},
        {"name": "Battery strap", "search_term": "LiPo battery strap 20x250 mm"},
    ]


def _template_parts(template: str, p: dict, features: dict, board) -> list[dict]:
    if template == "quadcopter_frame":
        return _quadcopter_parts(p, features)
    if template == "enclosure_box":
        length = screw_length(p["lid_t"]) if p["lid"] else 8
        parts = [{"name": f"4 × {p['screw']} × {length} mm self-tapping screws", "search_term": f"{p['screw']}x{length} mm self tapping screws pan head"}]
        if board:
            parts.insert(0, {"name": board[0], "search_term": board[0]})
        return parts
    if template == "bracket":
        screw = features.get("screw") or next((s for s, d in SCREW_CLEARANCE_MM.items() if d >= p["hole_d"] - 0.05), "M5")
        return [{"name": f"4 × {screw} screws", "search_term": f"{screw} countersunk wood screws" if not features.get("screw") else f"{screw} bolts and nuts"}]
    return []


def standard_components(template: str | None, p: dict | None, features: dict, board, text: str) -> list[dict]:
    parts = _template_parts(template, p, features, board) if template and p else []
    known = {part["name"].lower() for part in parts}
    for rx, name, term in MENTIONED_PARTS:
        if re.search(rx, text) and name.lower() not in known:
            parts.append({"name": name, "search_term": term})
    return parts
