"""OpenSCAD → STL (subprocess with a timeout) → GLB (trimesh, Z-up mm → glTF Y-up metres)."""

import re
import subprocess
import time
from pathlib import Path

import numpy as np
import trimesh
from django.conf import settings

from .. import EngineError

# User-supplied SCAD may not read files or escape the bounded $fn.
FORBIDDEN = re.compile(r"\b(include|use|import|surface)\b\s*[<(]")
FN_ASSIGN = re.compile(r"\$fn\s*=\s*([0-9.]+)")


def scad_source_check(source: str) -> list[str]:
    problems = []
    if FORBIDDEN.search(source):
        problems.append("include, use, import and surface are not allowed.")
    for value in FN_ASSIGN.findall(source):
        if float(value) > settings.OPENSCAD_MAX_FN:
            problems.append(f"$fn may be at most {settings.OPENSCAD_MAX_FN} (got {value}).")
    if len(source) > 100_000:
        problems.append("SCAD source is longer than 100000 characters.")
    return problems


def openscad_render(*, scad_path: Path, stl_path: Path, timeout: int | None = None, while_waiting=None) -> str:
    """Run the CLI; returns its log. Raises EngineError on failure, timeout or an empty model.

    `while_waiting` is called about twice a second while OpenSCAD runs (the job's checkpoint):
    whatever it raises (a cancellation) kills OpenSCAD and propagates.
    """
    limit = timeout or settings.OPENSCAD_TIMEOUT_SECONDS
    command = [settings.OPENSCAD_BINARY, "-o", str(stl_path), str(scad_path)]
    log_path = scad_path.with_suffix(".log")
    try:
        with log_path.open("w") as log_file:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log_file, cwd=scad_path.parent)
    except FileNotFoundError:
        raise EngineError("OpenSCAD is not installed on this worker.", error_type="engine_unavailable")
    deadline = time.monotonic() + limit
    try:
        while True:
            try:
                returncode = process.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    raise EngineError(f"OpenSCAD took longer than {limit} s.", error_type="timeout")
                if while_waiting is not None:
                    while_waiting()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = log_path.read_text(errors="replace")[-4000:]
    if returncode != 0 or not stl_path.exists() or stl_path.stat().st_size == 0:
        raise EngineError(f"OpenSCAD failed: {log.strip().splitlines()[-1] if log.strip() else returncode}", error_type="scad_error")
    return log


# Z-up millimetres (OpenSCAD, STL) → Y-up metres (glTF): x → x, z → y, y → -z.
Z_UP_MM_TO_Y_UP_M = np.array(
    [[0.001, 0, 0, 0], [0, 0, 0.001, 0], [0, -0.001, 0, 0], [0, 0, 0, 1]], dtype=float
)


def stl_to_glb(*, stl_path: Path, glb_path: Path, color=(0.55, 0.42, 0.33, 1.0)) -> dict:
    """Write a GLB with a PBR material; return facts about the mesh (in mm, Z up)."""
    mesh = trimesh.load(stl_path, file_type="stl", force="mesh")
    if mesh.is_empty:
        raise EngineError("OpenSCAD produced an empty model.", error_type="scad_error")
    mesh.merge_vertices()
    facts = {
        "watertight": bool(mesh.is_watertight),
        "triangles": int(len(mesh.faces)),
        "bbox_mm": [round(float(v), 3) for v in mesh.extents],
        "volume_mm3": round(float(mesh.volume), 1) if mesh.is_watertight else None,
    }
    gltf_mesh = mesh.copy()
    gltf_mesh.apply_transform(Z_UP_MM_TO_Y_UP_M)
    material = trimesh.visual.material.PBRMaterial(
        name="mozukai", baseColorFactor=[int(c * 255) for c in color], metallicFactor=0.0, roughnessFactor=0.8,
    )
    gltf_mesh.visual = trimesh.visual.TextureVisuals(material=material)
    glb_path.write_bytes(trimesh.Scene(gltf_mesh).export(file_type="glb"))
    return facts
