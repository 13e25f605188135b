"""OpenSCAD → STL (subprocess with a timeout) → GLB (trimesh, Z-up mm → glTF Y-up metres)."""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import trimesh
from django.conf import settings

from .. import EngineError

# User-supplied SCAD may not read files or run away with the fragment count. The checks run on
# the source with comments removed and string literals emptied, so `import/**/(` or a keyword
# hidden in a comment cannot slip past, and a word inside a string cannot trip them.
FORBIDDEN = re.compile(r"\b(?:include|use|surface)\b|\bimport\w*|\bdxf_\w*|\bfile\s*=")
NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
# `$fn = <literal>` ending the expression; any other right-hand side is rejected.
SPECIAL_ASSIGN = re.compile(r"(\$f[nas])\s*=(?!=)")
SPECIAL_LITERAL = re.compile(rf"\s*({NUMBER})\s*(?=[;,)]|$)")
MAX_SOURCE_CHARS = 100_000
# Resource limits for the OpenSCAD process (its CPU limit is the timeout plus a margin).
OPENSCAD_MAX_MEMORY_BYTES = 2 * 1024**3
OPENSCAD_MAX_FILE_BYTES = 200 * 1024**2


def scad_code_only(source: str) -> str:
    """The source with comments turned into a space and string literals emptied to `""`.

    Raises ValueError for an unterminated comment or string (OpenSCAD would not parse it either,
    and guessing where it ends is how a check gets bypassed).
    """
    out, i, n = [], 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            if end < 0:
                raise ValueError("Unterminated /* comment.")
            i = end + 2
            out.append(" ")
        elif c == '"':
            i += 1
            while i < n and source[i] != '"':
                i += 2 if source[i] == "\\" else 1
            if i >= n:
                raise ValueError("Unterminated string literal.")
            i += 1
            out.append('""')
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _special_bound_problem(name: str, value: float) -> str | None:
    if name == "$fn" and value > settings.OPENSCAD_MAX_FN:
        return f"$fn may be at most {settings.OPENSCAD_MAX_FN}"
    if name == "$fa" and value < 1:
        return "$fa must be at least 1"
    if name == "$fs" and value < 0.1:
        return "$fs must be at least 0.1"
    return None


def scad_source_check(source: str) -> list[str]:
    if len(source) > MAX_SOURCE_CHARS:
        return [f"SCAD source is longer than {MAX_SOURCE_CHARS} characters."]
    try:
        code = scad_code_only(source)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    if FORBIDDEN.search(code):
        problems.append("include, use, import*, surface, dxf_* and file= are not allowed.")
    for match in SPECIAL_ASSIGN.finditer(code):
        name = match.group(1)
        literal = SPECIAL_LITERAL.match(code, match.end())
        if literal is None:
            problems.append(f"{name} may only be set to a plain number.")
            continue
        problem = _special_bound_problem(name, float(literal.group(1)))
        if problem:
            problems.append(f"{problem} (got {literal.group(1)}).")
    return problems


def _limited(command: list[str], *, cpu_seconds: int) -> list[str]:
    """The command run under util-linux `prlimit` (memory, CPU time, file size).

    `prlimit` sets the limits on itself and then execs OpenSCAD, so no Python runs between
    fork and exec (a `preexec_fn` could deadlock while the lease-keeper thread runs).
    """
    return [
        "prlimit", f"--as={OPENSCAD_MAX_MEMORY_BYTES}", f"--cpu={cpu_seconds}", f"--fsize={OPENSCAD_MAX_FILE_BYTES}",
        "--", *command,
    ]


def _kill_group(process: subprocess.Popen) -> None:
    """OpenSCAD leads its own session: kill the whole group, then reap the leader."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is already gone
    process.wait()


def openscad_render(*, scad_path: Path, stl_path: Path, timeout: int | None = None, while_waiting=None) -> str:
    """Run the CLI; returns its log. Raises EngineError on failure, timeout or an empty model.

    `while_waiting` is called about twice a second while OpenSCAD runs (the job's checkpoint):
    whatever it raises (a cancellation) kills OpenSCAD and propagates.
    """
    limit = timeout or settings.OPENSCAD_TIMEOUT_SECONDS
    binary = shutil.which(settings.OPENSCAD_BINARY)
    if binary is None:
        raise EngineError("OpenSCAD is not installed on this worker.", error_type="engine_unavailable")
    command = _limited([binary, "-o", str(stl_path), str(scad_path)], cpu_seconds=limit + 5)
    log_path = scad_path.with_suffix(".log")
    try:
        with log_path.open("w") as log_file:
            process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=log_file, cwd=scad_path.parent,
                start_new_session=True,
            )
    except FileNotFoundError:
        raise EngineError("prlimit (util-linux) is not installed on this worker.", error_type="engine_unavailable")
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
            _kill_group(process)
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
