"""From a sparse point cloud to a coloured mesh: GLB (glTF, Y-up, metres) and PLY.

Why this path (see README, "Photogrammetry"): COLMAP's own `poisson_mesher` (screened Poisson,
Kazhdan & Hoppe) is already installed with COLMAP, reads a PLY of points with normals and
colours, and writes a mesh that keeps vertex colours. open3d would add a 105 MB wheel (769 MB
installed) for the same algorithm, and its Poisson needs a separate density-trimming step.
COLMAP's default trim (10) empties a mesh made from a sparse cloud; depth 8 with trim 6 (5, then 4
for a sparser cloud, tried in turn when a higher one leaves nothing) keeps the object and cuts most
of the balloon Poisson closes around open scans. The points carry no normals, so:

1. keep the points that matter: a low reprojection error and seen by at least 3 photos; when the
   cameras surround the scene (an orbit), only the points inside the orbit's inner part (the
   object and the ground under it, not the walls of the room);
2. normals by PCA of each point's k nearest neighbours (numpy, in blocks), each turned toward
   the mean centre of the cameras that saw the point;
3. `colmap poisson_mesher` in the sandbox; faces outside the kept points' box are dropped;
4. orientation: "up" is the mean of the cameras' up directions (people hold cameras upright),
   mapped to glTF's +Y; the model is centred on its footprint and rests on y = 0;
5. scale: a photo set has no absolute scale, so the model is normalised to a 1 m footprint
   (its largest horizontal side); a known size can be applied later by whoever knows it.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings

from .colmap import SparseModel, colmap_env

POISSON_DEPTH = 8
# Tried in order until the mesh keeps faces: a sparser cloud has lower density values everywhere.
POISSON_TRIMS = (6, 5, 4)
NEIGHBOURS = 12
MAX_POINTS = 40_000
MAX_ERROR_PX = 2.0
MIN_TRACK = 3
FOOTPRINT_METRES = 1.0


class MeshError(Exception):
    """Too little of the cloud is left to mesh; the message is meant for the customer."""


def camera_frame(model: SparseModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(up, scene centre, camera centres): up is the mean camera up direction, the centre the point
    nearest to every camera's viewing axis (least squares)."""
    centers = np.array([image.center for image in model.images.values()])
    rotations = [image.rotation for image in model.images.values()]
    up = -np.mean([r[1] for r in rotations], axis=0)  # camera y points down in the image
    up /= np.linalg.norm(up)
    a, b = np.zeros((3, 3)), np.zeros(3)
    for center, rotation in zip(centers, rotations):
        axis = rotation[2]  # viewing direction in world coordinates
        projector = np.eye(3) - np.outer(axis, axis)
        a += projector
        b += projector @ center
    try:
        target = np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        target = centers.mean(axis=0)
    return up, target, centers


def _horizontal(vectors: np.ndarray, up: np.ndarray) -> np.ndarray:
    return vectors - np.outer(vectors @ up, up)


def points_select(model: SparseModel) -> np.ndarray:
    """Indices of the points worth meshing (see the module's step 1)."""
    keep = (model.errors <= MAX_ERROR_PX) & (np.array([len(t) for t in model.tracks]) >= MIN_TRACK)
    up, target, centers = camera_frame(model)
    around = _horizontal(centers - target, up)
    radius = float(np.median(np.linalg.norm(around, axis=1)))
    angles = np.sort(np.arctan2(*_basis_coordinates(around, up).T[::-1]))
    widest_gap = np.max(np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi]))) if len(angles) > 1 else 2 * np.pi
    if widest_gap < np.pi * 0.75 and radius > 0:  # the cameras surround the scene: crop to the orbit's inside
        distance = np.linalg.norm(_horizontal(model.xyz - target, up), axis=1)
        inside = keep & (distance <= 0.6 * radius)
        if inside.sum() >= 200:
            keep = inside
    indices = np.flatnonzero(keep)
    if len(indices) > MAX_POINTS:
        indices = np.random.default_rng(0).choice(indices, MAX_POINTS, replace=False)
    return indices


def _basis_coordinates(vectors: np.ndarray, up: np.ndarray) -> np.ndarray:
    seed = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(up, seed)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    return np.stack([vectors @ e1, vectors @ e2], axis=1)


def normals_estimate(points: np.ndarray, toward: np.ndarray, *, k: int = NEIGHBOURS, block: int = 1024) -> np.ndarray:
    """Unit normals by PCA of k nearest neighbours, flipped to face `toward` (one point per row)."""
    count = len(points)
    k = min(k, count - 1)
    normals = np.zeros_like(points)
    squared = (points ** 2).sum(axis=1)
    for start in range(0, count, block):
        chunk = points[start:start + block]
        distances = squared[start:start + block, None] - 2 * chunk @ points.T + squared[None, :]
        nearest = np.argpartition(distances, k, axis=1)[:, : k + 1]
        neighbourhoods = points[nearest]  # (b, k+1, 3)
        centred = neighbourhoods - neighbourhoods.mean(axis=1, keepdims=True)
        covariance = np.einsum("bki,bkj->bij", centred, centred)
        _, vectors = np.linalg.eigh(covariance)
        normals[start:start + block] = vectors[:, :, 0]  # the smallest eigenvalue's vector
    flip = ((toward - points) * normals).sum(axis=1) < 0
    normals[flip] *= -1
    return normals


def ply_points_write(path: Path, points: np.ndarray, normals: np.ndarray, colours: np.ndarray) -> None:
    """Binary PLY in the layout COLMAP's fused.ply uses (what poisson_mesher reads)."""
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(points)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property float nx\nproperty float ny\nproperty float nz\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )
    record = np.dtype([("p", "<f4", 3), ("n", "<f4", 3), ("c", "u1", 3)])
    data = np.empty(len(points), dtype=record)
    data["p"], data["n"], data["c"] = points, normals, colours
    with path.open("wb") as handle:
        handle.write(header.encode("ascii"))
        handle.write(data.tobytes())


def _to_gltf_frame(vertices: np.ndarray, up: np.ndarray):
    """Rotate `up` to +Y, centre the footprint at the origin, rest on y=0, scale to the footprint."""
    y = up / np.linalg.norm(up)
    seed = np.array([1.0, 0.0, 0.0]) if abs(y[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    x = np.cross(y, seed)
    x /= np.linalg.norm(x)
    z = np.cross(x, y)
    rotation = np.stack([x, y, z])  # rows: the new axes in the old frame
    moved = vertices @ rotation.T
    low, high = moved.min(axis=0), moved.max(axis=0)
    footprint = max(high[0] - low[0], high[2] - low[2])
    scale = FOOTPRINT_METRES / footprint if footprint > 0 else 1.0
    centre = np.array([(low[0] + high[0]) / 2, low[1], (low[2] + high[2]) / 2])
    return (moved - centre) * scale, scale


def mesh_build(*, model: SparseModel, workdir: Path, run: Callable) -> dict:
    """Mesh the model; write workdir/model.glb and workdir/model.ply; return facts about the mesh."""
    import trimesh

    indices = points_select(model)
    if len(indices) < 100:
        raise MeshError("Too few reliable 3D points were found to build a surface; "
                        "photos with more texture and overlap give more points.")
    points = model.xyz[indices]
    up, _, _ = camera_frame(model)
    centers = {image_id: image.center for image_id, image in model.images.items()}
    toward = np.array([np.mean([centers[i] for i in model.tracks[index] if i in centers], axis=0) for index in indices])
    normals = normals_estimate(points, toward)
    cloud, meshed = workdir / "points.ply", workdir / "poisson.ply"
    ply_points_write(cloud, points, normals, model.rgb[indices])
    mesh, trim = None, None
    for trim in POISSON_TRIMS:
        meshed.unlink(missing_ok=True)
        result = run([settings.COLMAP_BINARY, "poisson_mesher", "--input_path", str(cloud), "--output_path", str(meshed),
                      "--PoissonMeshing.depth", str(POISSON_DEPTH), "--PoissonMeshing.trim", str(trim)],
                     on_line=None, env=colmap_env())
        if result.returncode != 0 or not meshed.exists():
            raise RuntimeError(f"COLMAP poisson_mesher exited with status {result.returncode}")
        if ply_header_vertices(meshed) > 0:
            mesh = trimesh.load(meshed, file_type="ply", force="mesh", process=False)
            break
    if mesh is None or len(mesh.faces) == 0:
        raise MeshError("The surface came out empty: the 3D points are too sparse to mesh.")
    colours = np.asarray(mesh.visual.vertex_colors) if mesh.visual.kind == "vertex" else None
    # Poisson closes open scans with a balloon; keep faces whose vertices lie within the cloud's box.
    margin = 0.05 * (points.max(axis=0) - points.min(axis=0))
    low, high = points.min(axis=0) - margin, points.max(axis=0) + margin
    inside = np.all((mesh.vertices >= low) & (mesh.vertices <= high), axis=1)
    mesh.update_faces(inside[mesh.faces].all(axis=1))
    mesh.remove_unreferenced_vertices()
    if len(mesh.faces) == 0:
        raise MeshError("The surface came out empty: the 3D points are too sparse to mesh.")
    vertices, scale = _to_gltf_frame(np.asarray(mesh.vertices), up)
    colours = np.asarray(mesh.visual.vertex_colors) if colours is not None else None  # after the face cut
    out = trimesh.Trimesh(vertices=vertices, faces=np.asarray(mesh.faces), vertex_colors=colours, process=False)
    glb, ply = workdir / "model.glb", workdir / "model.ply"
    glb.write_bytes(out.export(file_type="glb"))
    ply.write_bytes(out.export(file_type="ply"))
    extent = out.bounds[1] - out.bounds[0]
    return {
        "vertices": int(len(out.vertices)), "faces": int(len(out.faces)), "points_meshed": int(len(points)),
        "coloured": colours is not None, "size_m": [round(float(v), 3) for v in extent],
        "poisson_depth": POISSON_DEPTH, "poisson_trim": trim, "scale_factor": round(float(scale), 6),
    }


def ply_header_vertices(path: Path) -> int:
    """How many vertices a PLY declares (a check the tests and the bench use)."""
    with path.open("rb") as handle:
        for raw in handle:
            line = raw.decode("ascii", "replace").strip()
            if line.startswith("element vertex"):
                return int(line.split()[-1])
            if line == "end_header":
                break
    return 0

