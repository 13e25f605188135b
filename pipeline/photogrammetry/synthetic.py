"""A small scene rendered from known cameras, for tests, the benchmark and `make demo`.

Photogrammetry can only be checked against a truth one knows, so this draws one: a bonsai-like
object (a terracotta pot, a trunk and a canopy) standing on a textured ground disc inside a
textured backdrop wall, seen by N pinhole cameras on an orbit (two heights, alternating) with one
known focal length. Rendering is vectorised ray casting in numpy (one ray per pixel against the
analytic surfaces: plane, boxes, sphere, cylinders), shaded with a soft directional light.

Every surface carries a rich procedural texture (several octaves of value noise in world
coordinates, so a point looks the same from every view): SIFT finds thousands of stable
features on it. The world is Z-up, in metres; `SceneTruth` gives each camera's centre and
rotation (world → camera, the COLMAP convention) and the intrinsics.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 640, 480
FOCAL_PX = 560.0
ORBIT_RADIUS = 2.0
ORBIT_HEIGHTS = (0.85, 1.25)
LOOK_AT = (0.0, 0.0, 0.35)
GROUND_RADIUS = 2.4
WALL_RADIUS = 3.4
WALL_HEIGHT = 2.2
SKY = np.array([0.62, 0.72, 0.82])


@dataclass
class SceneTruth:
    width: int
    height: int
    focal_px: float
    cx: float
    cy: float
    names: list[str] = field(default_factory=list)
    centers: list[list[float]] = field(default_factory=list)  # world, metres
    rotations: list[list[list[float]]] = field(default_factory=list)  # world → camera

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "SceneTruth":
        return cls(**json.loads(text))


class _Noise:
    """Value noise on a wrapped random lattice, trilinear, summed over octaves."""

    def __init__(self, seed: int, size: int = 64):
        self.size = size
        self.lattice = np.random.default_rng(seed).random((size, size, size), dtype=np.float32)

    def sample(self, points: np.ndarray, scale: float) -> np.ndarray:
        p = (points * scale).astype(np.float32)
        base = np.floor(p)
        frac = p - base
        frac = frac * frac * (3 - 2 * frac)  # smoothstep: no lattice creases
        size = self.size
        low = base.astype(np.int64) % size
        high = (low + 1) % size
        flat = self.lattice.ravel()
        # Flat indices of the 8 corners: one gather each instead of three-axis fancy indexing.
        x = (low[:, 0] * size * size, high[:, 0] * size * size)
        y = (low[:, 1] * size, high[:, 1] * size)
        z = (low[:, 2], high[:, 2])
        wx, wy, wz = (1 - frac[:, 0], frac[:, 0]), (1 - frac[:, 1], frac[:, 1]), (1 - frac[:, 2], frac[:, 2])
        out = np.zeros(len(points), dtype=np.float32)
        for dx in (0, 1):
            for dy in (0, 1):
                xy, w = x[dx] + y[dy], wx[dx] * wy[dy]
                out += w * (wz[0] * flat[xy + z[0]] + wz[1] * flat[xy + z[1]])
        return out

    def fractal(self, points: np.ndarray, scale: float, octaves: int = 4) -> np.ndarray:
        total, weight, norm = np.zeros(len(points), dtype=np.float32), 1.0, 0.0
        for octave in range(octaves):
            total += weight * self.sample(points + 17.3 * octave, scale * 2 ** octave)
            norm += weight
            weight *= 0.6
        return total / norm


_PALETTES = {  # surface → (dark colour, light colour, feature scale)
    "ground": ((0.22, 0.17, 0.10), (0.62, 0.55, 0.36), 9.0),
    "pot": ((0.45, 0.16, 0.08), (0.86, 0.50, 0.30), 14.0),
    "trunk": ((0.20, 0.13, 0.08), (0.52, 0.38, 0.24), 22.0),
    "canopy": ((0.06, 0.22, 0.06), (0.45, 0.70, 0.25), 12.0),
    "wall": ((0.20, 0.22, 0.32), (0.78, 0.74, 0.62), 5.0),
    "stone": ((0.25, 0.25, 0.27), (0.75, 0.74, 0.70), 18.0),
}
_SURFACES = list(_PALETTES)


def look_at(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World → camera rotation of a camera at `center` looking at `target` (x right, y down, z forward)."""
    forward = target - center
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def orbit_cameras(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, rotation) of `count` cameras evenly around the object, alternating two heights."""
    target = np.array(LOOK_AT)
    cameras = []
    for k in range(count):
        angle = 2 * np.pi * k / count
        center = np.array([ORBIT_RADIUS * np.cos(angle), ORBIT_RADIUS * np.sin(angle), ORBIT_HEIGHTS[k % 2]])
        cameras.append((center, look_at(center, target)))
    return cameras


def _hit_plane(origin, dirs, best_t, best_id, normals):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -origin[2] / dirs[:, 2]
    hit = (dirs[:, 2] < -1e-9) & (t > 1e-6) & (t < best_t)
    points = origin + dirs * t[:, None]
    hit &= points[:, 0] ** 2 + points[:, 1] ** 2 <= GROUND_RADIUS ** 2
    best_t[hit], best_id[hit] = t[hit], _SURFACES.index("ground")
    normals[hit] = (0.0, 0.0, 1.0)


def _hit_box(origin, dirs, best_t, best_id, normals, low, high, surface):
    low, high = np.array(low), np.array(high)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / dirs
        t1, t2 = (low - origin) * inv, (high - origin) * inv
    t_near = np.nanmax(np.minimum(t1, t2), axis=1)
    t_far = np.nanmin(np.maximum(t1, t2), axis=1)
    hit = (t_near <= t_far) & (t_near > 1e-6) & (t_near < best_t)
    axis = np.argmax(np.minimum(t1, t2), axis=1)
    best_t[hit], best_id[hit] = t_near[hit], _SURFACES.index(surface)
    n = np.zeros_like(dirs)
    rows = np.arange(len(dirs))
    n[rows, axis] = -np.sign(dirs[rows, axis])
    normals[hit] = n[hit]


def _hit_sphere(origin, dirs, best_t, best_id, normals, center, radius, surface):
    center = np.array(center)
    oc = origin - center
    b = dirs @ oc
    c = oc @ oc - radius ** 2
    disc = b * b - c
    with np.errstate(invalid="ignore"):
        t = -b - np.sqrt(disc)
    hit = (disc > 0) & (t > 1e-6) & (t < best_t)
    best_t[hit], best_id[hit] = t[hit], _SURFACES.index(surface)
    points = origin + dirs[hit] * t[hit, None]
    normals[hit] = (points - center) / radius


def _hit_cylinder(origin, dirs, best_t, best_id, normals, center_xy, radius, z_range, surface, inside=False):
    ox, oy = origin[0] - center_xy[0], origin[1] - center_xy[1]
    a = dirs[:, 0] ** 2 + dirs[:, 1] ** 2
    b = 2 * (ox * dirs[:, 0] + oy * dirs[:, 1])
    c = ox * ox + oy * oy - radius ** 2
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(disc)
        t = (-b + root) / (2 * a) if inside else (-b - root) / (2 * a)
    z = origin[2] + dirs[:, 2] * t
    hit = (disc > 0) & (a > 1e-12) & (t > 1e-6) & (t < best_t) & (z >= z_range[0]) & (z <= z_range[1])
    best_t[hit], best_id[hit] = t[hit], _SURFACES.index(surface)
    px = ox + dirs[hit, 0] * t[hit]
    py = oy + dirs[hit, 1] * t[hit]
    n = np.stack([px, py, np.zeros_like(px)], axis=1) / radius
    normals[hit] = -n if inside else n


def render_view(center: np.ndarray, rotation: np.ndarray, *, noise: _Noise, width: int = WIDTH,
                height: int = HEIGHT, focal_px: float = FOCAL_PX) -> Image.Image:
    """One RGB view of the scene from a pinhole camera (principal point at the image centre)."""
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays_cam = np.stack([(u - width / 2) / focal_px, (v - height / 2) / focal_px, np.ones_like(u)], axis=-1).reshape(-1, 3)
    dirs = rays_cam @ rotation  # camera → world: R^T applied to each row
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    count = len(dirs)
    best_t = np.full(count, np.inf)
    best_id = np.full(count, -1)
    normals = np.zeros((count, 3))
    _hit_plane(center, dirs, best_t, best_id, normals)
    _hit_cylinder(center, dirs, best_t, best_id, normals, (0, 0), WALL_RADIUS, (-0.5, WALL_HEIGHT), "wall", inside=True)
    _hit_box(center, dirs, best_t, best_id, normals, (-0.32, -0.32, 0.0), (0.32, 0.32, 0.26), "pot")
    _hit_cylinder(center, dirs, best_t, best_id, normals, (0.0, 0.0), 0.07, (0.26, 0.55), "trunk")
    _hit_sphere(center, dirs, best_t, best_id, normals, (0.05, 0.02, 0.72), 0.3, "canopy")
    _hit_sphere(center, dirs, best_t, best_id, normals, (-0.22, 0.1, 0.56), 0.17, "canopy")
    _hit_box(center, dirs, best_t, best_id, normals, (0.55, -0.75, 0.0), (0.85, -0.45, 0.18), "stone")
    _hit_box(center, dirs, best_t, best_id, normals, (-0.9, 0.5, 0.0), (-0.7, 0.7, 0.3), "stone")

    image = np.tile(SKY, (count, 1))
    image[:, 2] += 0.0  # the sky is flat: no features where nothing is
    light = np.array([0.4, -0.3, 0.86])
    light /= np.linalg.norm(light)
    for index, surface in enumerate(_SURFACES):
        mask = best_id == index
        if not mask.any():
            continue
        points = center + dirs[mask] * best_t[mask, None]
        dark, bright, scale = _PALETTES[surface]
        offset = np.array([index * 31.7, index * 11.3, index * 5.9])
        n1 = noise.fractal(points + offset, scale)
        n2 = noise.fractal(points + offset + 50.0, scale * 2.7, octaves=2)
        mix = np.clip((n1 - 0.5) * 2.4 + 0.5, 0, 1)[:, None]
        colour = np.array(dark) * (1 - mix) + np.array(bright) * mix
        colour *= (0.75 + 0.5 * n2)[:, None]
        lambert = np.clip(np.abs(normals[mask] @ light), 0, 1)
        image[mask] = colour * (0.55 + 0.45 * lambert)[:, None]
    pixels = np.clip(image.reshape(height, width, 3) * 255.0, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def render_scene(directory: Path, *, views: int = 24, seed: int = 7, width: int = WIDTH, height: int = HEIGHT,
                 focal_px: float = FOCAL_PX, quality: int = 92) -> SceneTruth:
    """Write `views` JPEG views (view_01.jpg …) and truth.json into `directory`; return the truth."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    noise = _Noise(seed)
    truth = SceneTruth(width=width, height=height, focal_px=focal_px, cx=width / 2, cy=height / 2)
    for number, (center, rotation) in enumerate(orbit_cameras(views), start=1):
        name = f"view_{number:02d}.jpg"
        render_view(center, rotation, noise=noise, width=width, height=height, focal_px=focal_px).save(
            directory / name, format="JPEG", quality=quality)
        truth.names.append(name)
        truth.centers.append(center.tolist())
        truth.rotations.append(rotation.tolist())
    (directory / "truth.json").write_text(truth.to_json())
    return truth


def similarity_align(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama (1991): scale s, rotation R, translation t minimising |s R source + t − target|²."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    xs, xt = source - mu_s, target - mu_t
    covariance = xt.T @ xs / len(source)
    u, d, vt = np.linalg.svd(covariance)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1
    rotation = u @ sign @ vt
    variance = (xs ** 2).sum() / len(source)
    scale = float(np.trace(np.diag(d) @ sign) / variance)
    translation = mu_t - scale * rotation @ mu_s
    return scale, rotation, translation
