"""Parametric OpenSCAD templates. Each takes requirements and returns the SCAD source, the
resolved parameters and the bounding box (x, y, z in mm, Z up) the model must fill."""

from dataclasses import dataclass

from django.conf import settings

from mozukai_hub.api.errors import ApplicationError


@dataclass
class Model:
    template: str
    scad: str
    parameters: dict
    bbox_mm: tuple[float, float, float]


def _clamp(name: str, value: float, low: float, high: float) -> float:
    if not (low <= value <= high):
        raise ApplicationError(f"{name} must be between {low:g} and {high:g} mm (got {value:g}).", code="bad_dimensions")
    return float(value)


def _fn() -> int:
    return max(12, min(64, settings.OPENSCAD_MAX_FN))


def bonsai_pot(dims: dict, features: dict) -> Model:
    width = _clamp("width", dims.get("width", 150), 30, 600)
    height = _clamp("height", dims.get("height", width / 3), 10, 400)
    wall = _clamp("wall thickness", dims.get("thickness", max(3, min(8, width / 30))), 1.5, 20)
    holes = int(features.get("drainage_holes", 1))
    hole_d = min(12.0, width / 8)
    rectangular = features.get("shape") == "rectangular"
    depth = _clamp("depth", dims.get("depth", width * 0.7), 20, 600) if rectangular else width
    foot = min(4.0, height / 6)
    p = dict(width=width, depth=depth, height=height, wall=wall, holes=holes, hole_d=hole_d, foot=foot)
    if rectangular:
        body = f"""
module shell(w, d, h) {{ hull() {{ for (x = [-1, 1], y = [-1, 1]) translate([x * (w / 2 - 4), y * (d / 2 - 4), 0]) cylinder(h = h, r = 4); }} }}
difference() {{
  union() {{
    translate([0, 0, foot]) shell(width, depth, height - foot);
    for (x = [-1, 1], y = [-1, 1]) translate([x * width / 3, y * depth / 3, foot / 2]) cube([width / 8, depth / 8, foot + 0.01], center = true);
  }}
  translate([0, 0, foot + wall]) shell(width - 2 * wall, depth - 2 * wall, height);
  for (i = [0 : max(holes, 1) - 1]) if (holes > 0) translate([(i - (holes - 1) / 2) * width / 4, 0, -1]) cylinder(h = height, d = hole_d);
}}"""
    else:
        body = f"""
difference() {{
  union() {{
    translate([0, 0, foot]) cylinder(h = height - foot, d1 = width * 0.86, d2 = width);
    cylinder(h = foot + 0.01, d = width * 0.7);
  }}
  translate([0, 0, foot + wall]) cylinder(h = height, d1 = width * 0.86 - 2 * wall, d2 = width - 2 * wall);
  for (i = [0 : max(holes, 1) - 1]) if (holes > 0) rotate([0, 0, i * 360 / max(holes, 1)]) translate([holes > 1 ? width / 6 : 0, 0, -1]) cylinder(h = height, d = hole_d);
}}"""
    head = "\n".join(f"{k} = {v:g};" if isinstance(v, float) else f"{k} = {v};" for k, v in p.items())
    return Model("bonsai_pot", f"$fn = {_fn()};\n{head}\n{body}\n", p, (width, depth, height))


def planter_tray(dims: dict, features: dict) -> Model:
    width = _clamp("width", dims.get("width", dims.get("length", 200)), 30, 800)
    depth = _clamp("depth", dims.get("depth", width * 0.6), 20, 800)
    height = _clamp("height", dims.get("height", 30), 5, 400)
    wall = _clamp("wall thickness", dims.get("thickness", 3), 1, 20)
    p = dict(width=width, depth=depth, height=height, wall=wall)
    body = """
module rbox(w, d, h, r) { hull() { for (x = [-1, 1], y = [-1, 1]) translate([x * (w / 2 - r), y * (d / 2 - r), 0]) cylinder(h = h, r = r); } }
difference() {
  rbox(width, depth, height, 5);
  translate([0, 0, wall]) rbox(width - 2 * wall, depth - 2 * wall, height, max(1, 5 - wall));
}"""
    head = "\n".join(f"{k} = {v:g};" for k, v in p.items())
    return Model("planter_tray", f"$fn = {_fn()};\n{head}\n{body}\n", p, (width, depth, height))


# Screws by ISO metric size: clearance holes (the screw passes) and pilot holes (a self-tapping
# screw cuts its thread into a printed post).
SCREW_CLEARANCE_MM = {"M2": 2.2, "M2.5": 2.7, "M3": 3.2, "M4": 4.3, "M5": 5.3}
SCREW_PILOT_MM = {"M2": 1.7, "M2.5": 2.1, "M3": 2.6, "M4": 3.4, "M5": 4.2}
# Flight-controller stacks: the square hole spacing (centre to centre, mm) → the usual screw.
FC_STACKS = {16.0: "M2", 20.0: "M2", 25.5: "M2", 30.5: "M3"}
# Brushless motors by stator class (the first two digits of "2205", "1404"): the bolt pattern as
# the two distances between opposite holes across the shaft ("16x19"), and the screw.
MOTOR_CLASSES = [  # (largest class, pattern, screw)
    (11, (9.0, 9.0), "M2"),
    (14, (12.0, 12.0), "M2"),
    (20, (16.0, 16.0), "M2"),
    (26, (16.0, 19.0), "M3"),
    (99, (19.0, 25.0), "M3"),
]


def motor_pattern(stator_class: int) -> tuple[tuple[float, float], str]:
    """Bolt pattern and screw of a motor class, e.g. 22 (2205, 22xx) → ((16, 19), "M3")."""
    return next((pattern, screw) for top, pattern, screw in MOTOR_CLASSES if stator_class <= top)


def prop_span_mm(prop_in: float) -> float:
    """The motor-to-motor (diagonal) distance for props of this size: neighbouring motors sit
    span / √2 apart, which leaves a fifth of a prop between neighbouring prop tips."""
    return round(prop_in * 25.4 * 1.2 * 2 ** 0.5, 1)


def _screw(features: dict, key: str, default: str) -> str:
    screw = str(features.get(key) or default).upper()
    if screw not in SCREW_CLEARANCE_MM:
        raise ApplicationError(f"{key.replace('_', ' ')} must be one of {', '.join(SCREW_CLEARANCE_MM)} (got {screw}).", code="bad_dimensions")
    return screw


def _head(p: dict) -> str:
    return "\n".join(f"{k} = {v:g};" if isinstance(v, float) else f"{k} = {v};" for k, v in p.items() if not isinstance(v, str))


def enclosure_box(dims: dict, features: dict) -> Model:
    """An open box with four screw posts; `inner_*` sizes (what must fit inside) give the outer
    size with the walls and floor added; `lid` adds a lid with clearance holes, printed beside it."""
    wall = _clamp("wall thickness", dims.get("thickness", 2), 1, 10)
    if "inner_width" in dims or "inner_length" in dims:
        width = _clamp("width", dims.get("inner_width", dims.get("inner_length", 0)) + 2 * wall, 20, 500)
    else:
        width = _clamp("width", dims.get("width", dims.get("length", 100)), 20, 500)
    if "inner_depth" in dims:
        depth = _clamp("depth", dims["inner_depth"] + 2 * wall, 15, 500)
    else:
        depth = _clamp("depth", dims.get("depth", width * 0.6), 15, 500)
    if "inner_height" in dims:
        height = _clamp("height", dims["inner_height"] + wall, 10, 300)
    else:
        height = _clamp("height", dims.get("height", 40), 10, 300)
    if min(width, depth) - 2 * wall < 10 or height - wall < 5:
        raise ApplicationError(f"A {wall:g} mm wall leaves no room inside a {width:g} × {depth:g} × {height:g} mm box.", code="bad_dimensions")
    screw = _screw(features, "screw", "M3")
    screw_d = SCREW_PILOT_MM[screw]
    post_d = round(max(6.0, screw_d + 3.4), 2)
    lid = bool(features.get("lid"))
    lid_t = round(max(wall, 1.6), 2)
    gap = 5.0
    # The posts reach a little into both walls, so they fuse with them instead of touching along a line.
    post_in = round(wall + post_d / 2 - post_d * 0.15, 3)
    p = dict(width=width, depth=depth, height=height, wall=wall, post_d=post_d, screw_d=screw_d, post_in=post_in,
             lid=int(lid), lid_t=lid_t, lid_hole=SCREW_CLEARANCE_MM[screw], gap=gap, screw=screw)
    body = """
difference() {
  union() {
    difference() {
      translate([-width / 2, -depth / 2, 0]) cube([width, depth, height]);
      translate([-width / 2 + wall, -depth / 2 + wall, wall]) cube([width - 2 * wall, depth - 2 * wall, height]);
    }
    for (x = [-1, 1], y = [-1, 1]) translate([x * (width / 2 - post_in), y * (depth / 2 - post_in), 0]) cylinder(h = height - 2, d = post_d);
  }
  for (x = [-1, 1], y = [-1, 1]) translate([x * (width / 2 - post_in), y * (depth / 2 - post_in), wall]) cylinder(h = height, d = screw_d);
}
// the lid, printed beside the box: a plate with a clearance hole over each post
if (lid == 1) translate([width + gap, 0, 0]) difference() {
  translate([-width / 2, -depth / 2, 0]) cube([width, depth, lid_t]);
  for (x = [-1, 1], y = [-1, 1]) translate([x * (width / 2 - post_in), y * (depth / 2 - post_in), -1]) cylinder(h = lid_t + 2, d = lid_hole);
}"""
    bbox = (2 * width + gap if lid else width, depth, height)
    return Model("enclosure_box", f"$fn = {_fn()};\n{_head(p)}\n{body}\n", p, bbox)


def bracket(dims: dict, features: dict) -> Model:
    width = _clamp("width", dims.get("width", 40), 10, 300)
    length = _clamp("length", dims.get("length", dims.get("depth", 50)), 15, 400)
    height = _clamp("height", dims.get("height", 50), 15, 400)
    thick = _clamp("thickness", dims.get("thickness", 4), 2, 20)
    if features.get("screw"):
        hole_d = SCREW_CLEARANCE_MM[_screw(features, "screw", "M3")]
        if hole_d > width / 2.5:
            raise ApplicationError(f"{features['screw']} holes do not fit a {width:g} mm wide bracket.", code="bad_dimensions")
    else:
        hole_d = min(5.0, width / 4)
    p = dict(width=width, length=length, height=height, thick=thick, hole_d=hole_d)
    body = """
difference() {
  union() {
    cube([width, length, thick]);
    cube([width, thick, height]);
    hull() { translate([width / 2 - thick / 2, 0, 0]) cube([thick, min(length, height) * 0.6, thick]); translate([width / 2 - thick / 2, 0, 0]) cube([thick, thick, min(length, height) * 0.6]); }
  }
  for (x = [width / 4, 3 * width / 4]) {
    translate([x, length * 0.7, -1]) cylinder(h = thick + 2, d = hole_d);
    translate([x, -1, height * 0.7]) rotate([-90, 0, 0]) cylinder(h = thick + 2, d = hole_d);
  }
}"""
    head = "\n".join(f"{k} = {v:g};" for k, v in p.items())
    return Model("bracket", f"$fn = {_fn()};\n{head}\n{body}\n", p, (width, length, height))


def quadcopter_frame(dims: dict, features: dict) -> Model:
    """A one-piece X frame: a square centre plate with the flight-controller stack holes, four
    arms at 90°, and a motor pad with the motor's bolt pattern at the end of each arm.

    Honoured: `span` (motor-to-motor, diagonal; `width` as an older alias), `thickness` (of the
    arms and plate), `arm_width`; features `prop_in` (prop size in inches: gives the span when no
    span is asked, and must clear its neighbours when one is), `fc_mount` (16, 20, 25.5 or 30.5 mm
    stack), `fc_screw` (or `screw`), `motor_class` (22 for 2205/22xx motors) or `motor_mount` ([a, b] mm across
    the shaft) with `motor_screw`.
    """
    prop_in = float(features["prop_in"]) if features.get("prop_in") else None
    if prop_in is not None and not (1 <= prop_in <= 15):
        raise ApplicationError(f"prop size must be between 1 and 15 inches (got {prop_in:g}).", code="bad_dimensions")
    if "span" in dims or "width" in dims:
        span = _clamp("motor-to-motor span", dims.get("span", dims.get("width")), 60, 800)
    else:
        span = _clamp("motor-to-motor span", prop_span_mm(prop_in) if prop_in else 160, 60, 800)
    if prop_in and span / 2 ** 0.5 < prop_in * 25.4 + 4:
        raise ApplicationError(
            f"{prop_in:g}-inch props need at least {prop_in * 25.4 * 2 ** 0.5 + 6:.0f} mm motor-to-motor; "
            f"at {span:g} mm neighbouring props would hit each other.", code="bad_dimensions")
    arm_t = _clamp("arm thickness", dims.get("thickness", 3), 1.5, 12)
    arm_w = _clamp("arm width", dims.get("arm_width", round(max(6.0, span / 20), 2)), 4, 40)
    fc = float(features.get("fc_mount") or (20.0 if span < 200 else 30.5))
    if fc not in FC_STACKS:
        raise ApplicationError(f"flight-controller stack must be one of {', '.join(f'{s:g}' for s in FC_STACKS)} mm (got {fc:g}).", code="bad_dimensions")
    fc_screw = _screw(features, "fc_screw", features.get("screw") or FC_STACKS[fc])  # "M3 screws": the stack's
    if features.get("motor_mount"):
        try:
            motor_a, motor_b = (float(v) for v in features["motor_mount"])
        except (TypeError, ValueError):
            raise ApplicationError("motor mount must be two distances in mm, e.g. [16, 19].", code="bad_dimensions")
        motor_screw = _screw(features, "motor_screw", "M3" if max(motor_a, motor_b) >= 16 else "M2")
        stator = 0  # a bolt pattern, not a motor class, was asked for
    else:
        stator = int(features.get("motor_class") or (11 if span < 120 else 14 if span < 200 else 23 if span < 330 else 28))
        if not (8 <= stator <= 60):
            raise ApplicationError(f"motor class must be between 08xx and 60xx (got {stator}xx).", code="bad_dimensions")
        (motor_a, motor_b), default_screw = motor_pattern(stator)
        motor_screw = _screw(features, "motor_screw", default_screw)
    if not (6 <= min(motor_a, motor_b) and max(motor_a, motor_b) <= 40):
        raise ApplicationError(f"motor bolt pattern must be between 6 and 40 mm (got {motor_a:g} × {motor_b:g}).", code="bad_dimensions")
    fc_hole, motor_hole = SCREW_CLEARANCE_MM[fc_screw], SCREW_CLEARANCE_MM[motor_screw]
    motor_d = round(max(12.0, min(span / 7, 40.0), max(motor_a, motor_b) + motor_hole + 3.2, arm_w + 4), 1)
    plate = round(max(30.0, span / 4, fc + fc_hole + 6), 1)
    if span / 2 - motor_d / 2 < plate / 2 ** 0.5 * 0.75:
        raise ApplicationError(f"At {span:g} mm motor-to-motor the motor pads run into the {plate:g} mm centre plate.", code="bad_dimensions")
    p = dict(span=span, arm_t=arm_t, arm_w=arm_w, motor_d=motor_d, plate=plate, fc=fc, fc_hole=fc_hole,
             motor_class=stator, motor_a=motor_a, motor_b=motor_b, motor_hole=motor_hole, shaft_d=min(motor_a, motor_b) / 2,
             fc_screw=fc_screw, motor_screw=motor_screw, **({"prop_in": prop_in} if prop_in else {}))
    body = """
half = span / 2;
difference() {
  union() {
    translate([-plate / 2, -plate / 2, 0]) cube([plate, plate, arm_t]);
    for (a = [45, 135, 225, 315]) rotate([0, 0, a]) {
      translate([0, -arm_w / 2, 0]) cube([half, arm_w, arm_t]);
      translate([half, 0, 0]) cylinder(h = arm_t, d = motor_d);
    }
  }
  // flight-controller stack: a square of fc × fc mm
  for (x = [-1, 1], y = [-1, 1]) translate([x * fc / 2, y * fc / 2, -1]) cylinder(h = arm_t + 2, d = fc_hole, $fn = HOLE_FN);
  // each motor: the shaft clearance and two pairs of bolt holes, motor_a and motor_b apart across the shaft
  for (a = [45, 135, 225, 315]) rotate([0, 0, a]) translate([half, 0, -1]) {
    cylinder(h = arm_t + 2, d = shaft_d, $fn = HOLE_FN);
    for (i = [0, 1], s = [-1, 1]) rotate([0, 0, 45 + 90 * i]) translate([s * (i == 0 ? motor_a : motor_b) / 2, 0, 0]) cylinder(h = arm_t + 2, d = motor_hole, $fn = HOLE_FN);
  }
}"""
    extent = round(max(span / 2 ** 0.5 + motor_d, plate), 3)
    # Screw holes are small: fewer facets there keep the render quick (the literal, as the source check asks).
    body = body.replace("HOLE_FN", str(min(_fn(), 20)))
    return Model("quadcopter_frame", f"$fn = {_fn()};\n{_head(p)}\n{body}\n", p, (extent, extent, arm_t))


def _scaled(dims: dict, defaults: dict[str, float], miniature_below: float | None = None) -> float:
    """Scale factor for the default proportions, from the first dimension the prompt gave. With
    `miniature_below`, only a model well under full size is scaled (a 60 mm tall chair is a doll's
    chair, not a 450 mm seat on 60 mm legs; a 2 m long table is still 750 mm high)."""
    for axis, default in defaults.items():
        if axis in dims:
            ratio = dims[axis] / default
            return ratio if miniature_below is None or ratio < miniature_below else 1.0
    return 1.0


def _size(dims: dict, key: str, name: str, default: float, low: float, high: float, *aliases: str) -> float:
    """A dimension the prompt gave must be in range; a derived default is brought into it."""
    for axis in (key, *aliases):
        if axis in dims:
            return _clamp(name, dims[axis], low, high)
    return float(min(max(default, low), high))


def chair(dims: dict, features: dict) -> Model:
    backrest = features.get("backrest", True)
    total = 850.0 if backrest else 450.0
    s = _scaled(dims, {"width": 450.0, "depth": 450.0, "height": total, "seat_height": 450.0}, miniature_below=0.25)
    width = _size(dims, "width", "width", 450 * s, 10, 1500)
    depth = _size(dims, "depth", "depth", 450 * s, 10, 1500)
    if backrest:
        height = _size(dims, "height", "height", dims.get("seat_height", 450 * s) * 850 / 450, 15, 2500)
        seat_h = _size(dims, "seat_height", "seat height", height * 450 / 850, 8, height * 0.8)
    else:  # a stool: the seat is the top
        height = seat_h = _size(dims, "seat_height", "height", 450 * s, 8, 1500, "height")
    seat_t = _size(dims, "thickness", "seat thickness", max(2.0, min(seat_h / 3, width / 18)), 1, seat_h / 2)
    leg = max(2.0, min(width, depth) / 12)
    p = dict(width=width, depth=depth, height=height, seat_h=seat_h, seat_t=seat_t, leg=leg,
             back_t=max(1.5, leg * 0.6), back_lo=seat_h + (height - seat_h) * 0.45, backrest=int(backrest))
    body = """
union() {
  translate([-width / 2, -depth / 2, seat_h - seat_t]) cube([width, depth, seat_t]);
  for (x = [-1, 1], y = [-1, 1]) translate([x > 0 ? width / 2 - leg : -width / 2, y > 0 ? depth / 2 - leg : -depth / 2, 0])
    cube([leg, leg, (backrest == 1 && y > 0) ? height : seat_h]);
  if (backrest == 1) translate([-width / 2, depth / 2 - back_t, back_lo]) cube([width, back_t, height - back_lo]);
}"""
    head = "\n".join(f"{k} = {v:g};" for k, v in p.items())
    return Model("chair", f"$fn = {_fn()};\n{head}\n{body}\n", p, (width, depth, height))


def table(dims: dict, features: dict) -> Model:
    s = _scaled(dims, {"width": 1200.0, "length": 1200.0, "depth": 750.0, "height": 750.0}, miniature_below=0.25)
    width = _size(dims, "width", "width", 1200 * s, 10, 4000, "length")
    depth = _size(dims, "depth", "depth", min(width, 750 * s), 10, 2500)
    height = _size(dims, "height", "height", 750 * s, 8, 2000)
    top_t = _size(dims, "thickness", "top thickness", max(1.0, min(height / 25, width / 40)), 0.8, height / 3)
    leg = max(1.5, min(width, depth) / 14)
    inset = leg / 2
    apron = min(height / 8, max(top_t * 3, 2.0))
    p = dict(width=width, depth=depth, height=height, top_t=top_t, leg=leg, inset=inset, apron=apron)
    body = """
union() {
  translate([-width / 2, -depth / 2, height - top_t]) cube([width, depth, top_t]);
  for (x = [-1, 1], y = [-1, 1]) translate([x > 0 ? width / 2 - inset - leg : -width / 2 + inset, y > 0 ? depth / 2 - inset - leg : -depth / 2 + inset, 0])
    cube([leg, leg, height]);
  // aprons joining the legs under the top
  for (y = [-1, 1]) translate([-width / 2 + inset, y > 0 ? depth / 2 - inset - leg / 2 : -depth / 2 + inset, height - top_t - apron]) cube([width - 2 * inset, leg / 2, apron + top_t]);
  for (x = [-1, 1]) translate([x > 0 ? width / 2 - inset - leg / 2 : -width / 2 + inset, -depth / 2 + inset, height - top_t - apron]) cube([leg / 2, depth - 2 * inset, apron + top_t]);
}"""
    head = "\n".join(f"{k} = {v:g};" for k, v in p.items())
    return Model("table", f"$fn = {_fn()};\n{head}\n{body}\n", p, (width, depth, height))


def shelf(dims: dict, features: dict) -> Model:
    s = _scaled(dims, {"height": 1800.0, "width": 800.0, "length": 800.0, "depth": 300.0}, miniature_below=0.25)
    width = _size(dims, "width", "width", 800 * s, 10, 4000, "length")
    depth = _size(dims, "depth", "depth", 300 * s, 5, 1500)
    height = _size(dims, "height", "height", 1800 * s, 15, 4000)
    board = _size(dims, "thickness", "board thickness", max(0.8, min(18 * s, width / 20, height / 20)), 0.8, min(width, height) / 6)
    shelves = int(features.get("shelves") or max(1, min(round(height / (350 * s)), int((height - board) / (3 * board)))))
    if not (1 <= shelves <= 20) or (height - board) / shelves < 2 * board:
        raise ApplicationError(f"{shelves} shelves do not fit in {height:g} mm.", code="bad_dimensions")
    back = max(1.0, board / 3)
    p = dict(width=width, depth=depth, height=height, board=board, shelves=shelves, back=back)
    body = """
pitch = (height - board) / shelves;
union() {
  for (x = [-width / 2, width / 2 - board]) translate([x, -depth / 2, 0]) cube([board, depth, height]);
  for (i = [0 : shelves]) translate([-width / 2, -depth / 2, i * pitch]) cube([width, depth, board]);
  translate([-width / 2, depth / 2 - back, 0]) cube([width, back, height]);
}"""
    head = "\n".join(f"{k} = {v:g};" for k, v in p.items())
    return Model("shelf", f"$fn = {_fn()};\n{head}\n{body}\n", p, (width, depth, height))


def vase(dims: dict, features: dict) -> Model:
    kind = features.get("vessel", "vase")
    default_w, default_h = (80.0, 95.0) if kind in ("cup", "mug") else (100.0, 200.0)
    s = _scaled(dims, {"width": default_w, "height": default_h})
    width = _size(dims, "width", "width", default_w * s, 5, 800)
    height = _size(dims, "height", "height", default_h * s, 5, 1200)
    wall = _size(dims, "thickness", "wall thickness", max(0.8, min(4.0, width / 30)), 0.6, width / 6)
    r = width / 2
    if kind == "vase":  # base, belly (widest), neck, flared lip
        profile = [(r * 0.62, 0), (r, height * 0.4), (r * 0.55, height * 0.85), (r * 0.68, height)]
    else:  # slightly tapered cup
        profile = [(r * (0.85 if kind == "cup" else 1.0), 0), (r, height)]
    bottom = max(wall, min(height / 12, 2 * wall))
    outer = [(0.0, 0.0)] + profile
    inner = [(x - wall, max(z, bottom)) for x, z in reversed(profile)] + [(0.0, bottom)]
    points = ", ".join(f"[{x:.3f}, {z:.3f}]" for x, z in outer + inner)
    handle = kind == "mug"
    grip = height * 0.3  # the handle's outer radius
    p = dict(width=width, height=height, wall=wall, bottom=bottom, vessel=kind, handle=int(handle), grip=grip)
    body = f"""
union() {{
  rotate_extrude() polygon([{points}]);
  if (handle == 1) translate([width / 2 - wall / 2, 0, height / 2]) rotate([90, 0, 0]) difference() {{
    cylinder(h = max(2, width / 7), r = grip, center = true);
    cylinder(h = width, r = grip * 0.7, center = true);
    translate([-2 * grip, -2 * grip, -width]) cube([2 * grip, 4 * grip, 2 * width]);
  }}
}}"""
    head = "\n".join(f"{k} = {v:g};" for k, v in p.items() if k != "vessel")
    x = width / 2 + (width / 2 - wall / 2 + grip if handle else width / 2)
    return Model("vase", f"$fn = {_fn()};\n{head}\n{body}\n", p, (x, width, height))


TEMPLATES = {
    "bonsai_pot": bonsai_pot,
    "planter_tray": planter_tray,
    "enclosure_box": enclosure_box,
    "bracket": bracket,
    "quadcopter_frame": quadcopter_frame,
    "chair": chair,
    "table": table,
    "shelf": shelf,
    "vase": vase,
}


def model_from_requirements(requirements: dict) -> Model:
    template = TEMPLATES[requirements["model_type"]]
    return template(requirements.get("dimensions") or {}, requirements.get("features") or {})
