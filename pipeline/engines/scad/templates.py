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


def enclosure_box(dims: dict, features: dict) -> Model:
    width = _clamp("width", dims.get("width", dims.get("length", 100)), 20, 500)
    depth = _clamp("depth", dims.get("depth", width * 0.6), 15, 500)
    height = _clamp("height", dims.get("height", 40), 10, 300)
    wall = _clamp("wall thickness", dims.get("thickness", 2), 1, 10)
    p = dict(width=width, depth=depth, height=height, wall=wall, post_d=6.0, screw_d=2.6)
    body = """
difference() {
  union() {
    difference() {
      translate([-width / 2, -depth / 2, 0]) cube([width, depth, height]);
      translate([-width / 2 + wall, -depth / 2 + wall, wall]) cube([width - 2 * wall, depth - 2 * wall, height]);
    }
    for (x = [-1, 1], y = [-1, 1]) translate([x * (width / 2 - wall - post_d / 2), y * (depth / 2 - wall - post_d / 2), 0]) cylinder(h = height - 2, d = post_d);
  }
  for (x = [-1, 1], y = [-1, 1]) translate([x * (width / 2 - wall - post_d / 2), y * (depth / 2 - wall - post_d / 2), wall]) cylinder(h = height, d = screw_d);
}"""
    head = "\n".join(f"{k} = {v:g};" for k, v in p.items())
    return Model("enclosure_box", f"$fn = {_fn()};\n{head}\n{body}\n", p, (width, depth, height))


def bracket(dims: dict, features: dict) -> Model:
    width = _clamp("width", dims.get("width", 40), 10, 300)
    length = _clamp("length", dims.get("length", dims.get("depth", 50)), 15, 400)
    height = _clamp("height", dims.get("height", 50), 15, 400)
    thick = _clamp("thickness", dims.get("thickness", 4), 2, 20)
    p = dict(width=width, length=length, height=height, thick=thick, hole_d=min(5.0, width / 4))
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
    span = _clamp("motor-to-motor span", dims.get("span", dims.get("width", 160)), 60, 800)
    arm_t = _clamp("arm thickness", dims.get("thickness", 3), 1.5, 12)
    arm_w = max(6.0, span / 20)
    motor_d = max(12.0, span / 7)
    plate = max(30.0, span / 4)
    p = dict(span=span, arm_t=arm_t, arm_w=arm_w, motor_d=motor_d, plate=plate)
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
  for (x = [-10, 10], y = [-10, 10]) translate([x, y, -1]) cylinder(h = arm_t + 2, d = 3.2);
  for (a = [45, 135, 225, 315]) rotate([0, 0, a]) translate([half, 0, -1]) cylinder(h = arm_t + 2, d = motor_d / 3);
}"""
    head = "\n".join(f"{k} = {v:g};" for k, v in p.items())
    extent = span / 2 ** 0.5 + motor_d
    return Model("quadcopter_frame", f"$fn = {_fn()};\n{head}\n{body}\n", p, (extent, extent, arm_t))


TEMPLATES = {
    "bonsai_pot": bonsai_pot,
    "planter_tray": planter_tray,
    "enclosure_box": enclosure_box,
    "bracket": bracket,
    "quadcopter_frame": quadcopter_frame,
}


def model_from_requirements(requirements: dict) -> Model:
    template = TEMPLATES[requirements["model_type"]]
    return template(requirements.get("dimensions") or {}, requirements.get("features") or {})
