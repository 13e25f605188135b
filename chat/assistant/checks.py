"""Checks of a rendered design, measured on the mesh (CadEval's checks as the template: a closed
mesh, the bounding box, the volume), plus what each design promises: the quadcopter's motor
spacing and arms, the enclosure's inside."""

import math
from pathlib import Path

import numpy as np
import trimesh

from pipeline.engines import EngineError
from pipeline.engines.scad.render import openscad_render, scad_source_check

from .scad import ScadDesign

BBOX_TOLERANCE = 0.02  # per axis, relative
SPACING_TOLERANCE = 0.02  # relative
THICKNESS_TOLERANCE_MM = 0.1
HOLE_TOLERANCE_MM = 0.1


def scad_render_stl(*, source: str, workdir: Path, timeout: int | None = None) -> Path:
    """Render SCAD to `workdir/model.stl` as a `scad_render` job does (the source checks, then
    OpenSCAD in the sandbox), with `--hardwarnings`: an unknown module or variable, or an empty
    result, is an error rather than a partial model. Raises EngineError."""
    problems = scad_source_check(source)
    if problems:
        raise EngineError(" ".join(problems), error_type="scad_error")
    scad_path, stl_path = workdir / "model.scad", workdir / "model.stl"
    scad_path.write_text(source)
    openscad_render(scad_path=scad_path, stl_path=stl_path, timeout=timeout, hardwarnings=True)
    return stl_path


def _check(expected: float, measured: float | None, *, tolerance: float, relative: bool = False) -> dict:
    allowed = abs(expected) * tolerance if relative else tolerance
    ok = measured is not None and abs(measured - expected) <= allowed + 1e-9
    return {"expected": expected, "measured": None if measured is None else round(float(measured), 3),
            "tolerance": f"{tolerance:.0%}" if relative else f"±{tolerance:g} mm", "ok": bool(ok)}


def _hull_2d(points: np.ndarray) -> np.ndarray:
    """Convex hull of 2-D points (Andrew's monotone chain), counter-clockwise."""
    pts = sorted(set(map(tuple, np.round(points, 6))))
    if len(pts) < 3:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def _fit_circle(points: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Least-squares circle through 2-D points: (centre, radius)."""
    if len(points) < 3:
        return None
    a = np.column_stack([2 * points[:, 0], 2 * points[:, 1], np.ones(len(points))])
    b = (points ** 2).sum(axis=1)
    (cx, cy, c), *_ = np.linalg.lstsq(a, b, rcond=None)
    return np.array([cx, cy]), math.sqrt(max(c + cx * cx + cy * cy, 0.0))


def _loops(mesh: trimesh.Trimesh, z: float, tolerance: float = 1e-3) -> list[np.ndarray]:
    """The closed outlines of a horizontal cut at height z, each as its XY points: the cut's
    segments joined where their ends meet (within `tolerance` mm; union-find over a grid)."""
    segments = trimesh.intersections.mesh_plane(mesh, plane_normal=[0, 0, 1], plane_origin=[0, 0, z])
    points = segments[:, :, :2].reshape(-1, 2)
    parent = list(range(len(points)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(a: int, b: int) -> None:
        parent[root(a)] = root(b)

    for i in range(0, len(points), 2):
        join(i, i + 1)
    cells: dict[tuple[int, int], list[int]] = {}
    keys = [(int(x), int(y)) for x, y in np.floor(points / tolerance)]
    for i, key in enumerate(keys):
        cells.setdefault(key, []).append(i)
    for i, (kx, ky) in enumerate(keys):
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for j in cells.get((kx + dx, ky + dy), ()):
                    if j > i and abs(points[i] - points[j]).max() <= tolerance:
                        join(i, j)
    groups: dict[int, list[int]] = {}
    for i in range(len(points)):
        groups.setdefault(root(i), []).append(i)
    return [points[members] for members in groups.values()]


def _quadcopter_checks(mesh: trimesh.Trimesh, expected: dict) -> dict:
    checks: dict = {}
    lo, hi = mesh.bounds
    centre = (lo[:2] + hi[:2]) / 2
    hull = _hull_2d(mesh.vertices[:, :2]) - centre
    radius = np.linalg.norm(hull, axis=1)
    pad = float(expected.get("motor_pad_diameter_mm") or 0)
    motors, pads = [], []
    # The motor pads are the outermost discs, one per quadrant: their outline on the convex hull
    # lies on a circle around the motor centre.
    for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1)):
        in_quadrant = (np.sign(hull[:, 0]) == sx) & (np.sign(hull[:, 1]) == sy)
        if not in_quadrant.any():
            return {"motor_spacing_mm": _check(expected["motor_spacing_mm"], None, tolerance=SPACING_TOLERANCE, relative=True)}
        r_max = radius[in_quadrant].max()
        band = 0.45 * pad if pad else 0.15 * r_max
        fit = _fit_circle(hull[in_quadrant & (radius >= r_max - band)])
        if fit is None:
            return {"motor_spacing_mm": _check(expected["motor_spacing_mm"], None, tolerance=SPACING_TOLERANCE, relative=True)}
        motors.append(fit[0])
        pads.append(2 * fit[1])
    diagonals = [float(np.linalg.norm(motors[0] - motors[2])), float(np.linalg.norm(motors[1] - motors[3]))]
    worst = max(diagonals, key=lambda d: abs(d - expected["motor_spacing_mm"]))
    checks["motor_spacing_mm"] = _check(expected["motor_spacing_mm"], worst, tolerance=SPACING_TOLERANCE, relative=True)
    if pad:
        checks["motor_pad_diameter_mm"] = _check(pad, max(pads, key=lambda d: abs(d - pad)), tolerance=SPACING_TOLERANCE, relative=True)
    # Each arm, cut across halfway between the centre plate and its motor pad.
    plate_reach = float(expected.get("plate_mm") or 0) / math.sqrt(2)
    thickness, width = [], []
    for motor in motors:
        distance = float(np.linalg.norm(motor))
        if distance < 1:
            raise ValueError("a motor pad at the frame's centre")
        direction = np.append(motor / distance, 0.0)
        inner = distance - (pad / 2 if pad else 0.2 * distance)
        at = (max(plate_reach, 0.0) + inner) / 2 if plate_reach else 0.55 * distance
        origin = np.append(centre, 0.0) + direction * at
        cut = trimesh.intersections.mesh_plane(mesh, plane_normal=direction, plane_origin=origin).reshape(-1, 3)
        if len(cut) == 0:
            thickness.append(None)
            width.append(None)
            continue
        across = np.array([-direction[1], direction[0], 0.0])
        thickness.append(float(cut[:, 2].max() - cut[:, 2].min()))
        width.append(float((cut @ across).max() - (cut @ across).min()))
    for key, values in (("arm_thickness_mm", thickness), ("arm_width_mm", width)):
        if key in expected:
            found = [v for v in values if v is not None]
            measured = max(found, key=lambda v: abs(v - expected[key])) if len(found) == len(values) else None
            checks[key] = _check(expected[key], measured, tolerance=THICKNESS_TOLERANCE_MM)
    # The flight-controller stack: the four small holes through the centre plate.
    if expected.get("fc_mount_mm"):
        half_plate = float(expected.get("plate_mm") or 30) / 2
        holes = []
        for loop in _loops(mesh, (lo[2] + hi[2]) / 2):
            size = float((loop.max(axis=0) - loop.min(axis=0)).max())
            fit = _fit_circle(loop - centre) if size < 6 else None
            if fit is not None and abs(fit[0]).max() < half_plate:
                holes.append(fit[0])
        measured = None
        if len(holes) == 4:
            # Four holes on a square: the four shortest of the six distances are its sides.
            distances = sorted(float(np.linalg.norm(a - b)) for i, a in enumerate(holes) for b in holes[i + 1:])
            measured = sum(distances[:4]) / 4 if distances[3] < distances[4] * 0.8 else None
        checks["fc_mount_mm"] = _check(expected["fc_mount_mm"], measured, tolerance=HOLE_TOLERANCE_MM)
    return checks


def _enclosure_checks(mesh: trimesh.Trimesh, expected: dict) -> dict:
    checks: dict = {}
    lo, hi = mesh.bounds
    floor = expected["floor_thickness_mm"]
    height = expected["inner_height_mm"] + floor
    loops = sorted(_loops(mesh, (floor + height) / 2), key=lambda p: -float(np.ptp(p[:, 0]) * np.ptp(p[:, 1])))
    inner = loops[1] if len(loops) > 1 else None  # the outer wall, then the cavity (posts and holes are smaller)
    inner_size = (float(np.ptp(inner[:, 0])), float(np.ptp(inner[:, 1]))) if inner is not None else (None, None)
    checks["inner_width_mm"] = _check(expected["inner_width_mm"], inner_size[0], tolerance=THICKNESS_TOLERANCE_MM)
    checks["inner_depth_mm"] = _check(expected["inner_depth_mm"], inner_size[1], tolerance=THICKNESS_TOLERANCE_MM)
    if inner is not None:
        outer_w = float(np.ptp(loops[0][:, 0]))
        checks["wall_thickness_mm"] = _check(expected["wall_thickness_mm"], (outer_w - inner_size[0]) / 2, tolerance=THICKNESS_TOLERANCE_MM)
        # The floor: the lowest upward face inside the cavity.
        x0, y0 = inner.min(axis=0)
        x1, y1 = inner.max(axis=0)
        centres, normals = mesh.triangles_center, mesh.face_normals
        inside = ((centres[:, 0] > x0) & (centres[:, 0] < x1) & (centres[:, 1] > y0) & (centres[:, 1] < y1)
                  & (normals[:, 2] > 0.99) & (centres[:, 2] > lo[2] + 0.01))
        measured = float(centres[inside, 2].min() - lo[2]) if inside.any() else None
        checks["floor_thickness_mm"] = _check(floor, measured, tolerance=THICKNESS_TOLERANCE_MM)
        checks["inner_height_mm"] = _check(expected["inner_height_mm"], None if measured is None else height - measured,
                                           tolerance=THICKNESS_TOLERANCE_MM)
    return checks


def _bracket_checks(mesh: trimesh.Trimesh, expected: dict) -> dict:
    # The base plate's top: the lowest upward face above the bottom.
    lo = mesh.bounds[0]
    up = (mesh.face_normals[:, 2] > 0.99) & (mesh.triangles_center[:, 2] > lo[2] + 0.01)
    measured = float(mesh.triangles_center[up, 2].min() - lo[2]) if up.any() else None
    return {"thickness_mm": _check(expected["thickness_mm"], measured, tolerance=THICKNESS_TOLERANCE_MM)}


DESIGN_CHECKS = {"quadcopter_frame": _quadcopter_checks, "enclosure_box": _enclosure_checks, "bracket": _bracket_checks}


def mesh_check(stl_path: Path, design: ScadDesign | dict) -> dict:
    """Load the STL and check it against the design: closed, the bounding box within 2% per axis,
    a positive volume, and the design's own facts measured on the mesh. `ok` when all hold."""
    data = design.as_dict() if isinstance(design, ScadDesign) else dict(design)
    expected_bbox = [float(v) for v in data["expected_bbox_mm"]]
    mesh = trimesh.load(Path(stl_path), file_type="stl", force="mesh")
    if mesh.is_empty:
        return {"watertight": False, "bbox_mm": [0.0, 0.0, 0.0], "expected_bbox_mm": expected_bbox, "bbox_within_2pct": False,
                "volume_mm3": None, "triangles": 0, "checks": {}, "ok": False}
    mesh.merge_vertices()
    watertight = bool(mesh.is_watertight)
    bbox = [round(float(v), 3) for v in mesh.extents]
    within = all(abs(got - want) <= BBOX_TOLERANCE * want + 1e-6 for got, want in zip(bbox, expected_bbox))
    volume = round(float(mesh.volume), 1) if watertight else None
    checks = {}
    checker = DESIGN_CHECKS.get(str(data.get("template") or ""))
    if checker and data.get("expected"):
        try:
            checks = checker(mesh, data["expected"])
        except (KeyError, ValueError, IndexError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
            # A mesh too far from the design to measure (or a design without its facts) fails, with the reason.
            checks = {"measurable": {"expected": True, "measured": False, "error": f"{type(exc).__name__}: {exc}", "ok": False}}
    ok = watertight and within and bool(volume and volume > 0) and all(c["ok"] for c in checks.values())
    return {"watertight": watertight, "bbox_mm": bbox, "expected_bbox_mm": expected_bbox, "bbox_within_2pct": within,
            "volume_mm3": volume, "triangles": int(len(mesh.faces)), "checks": checks, "ok": bool(ok)}
