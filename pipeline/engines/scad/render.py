"""OpenSCAD → STL (in the sandbox: own process group, prlimit, wall clock) → GLB (trimesh, Z-up mm → glTF Y-up metres)."""

import re
from functools import partial
from pathlib import Path

import numpy as np
import trimesh
from django.conf import settings

from mozukai_hub.sandbox import ProgramMissing, ProgramTimeout, run_program

from .. import EngineError
from .cost import scad_cost_estimate

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
    """What is wrong with user-supplied SCAD before it may be rendered: file access, unbounded
    special variables, and an estimated cost above `OPENSCAD_MAX_COST`."""
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
    # The CPU budget, checked before a worker is spent on it (pipeline.engines.scad.cost).
    cost = scad_cost_estimate(code)
    if cost > settings.OPENSCAD_MAX_COST:
        problems.append(
            f"Estimated rendering cost {cost:,} is above the budget of {settings.OPENSCAD_MAX_COST:,} "
            "(loop counts, $fn/$fa fragments and minkowski multiply it): use fewer iterations or a lower $fn."
        )
    return problems


def openscad_render(*, scad_path: Path, stl_path: Path, timeout: int | None = None, run=None, while_waiting=None,
                    hardwarnings: bool = False) -> str:
    """Run the CLI in the sandbox; returns the tail of its output. Raises EngineError on failure,
    timeout or an empty model.

    `run` is how to run it: a job passes `ctx.run_program` (output to the job's log, the job's
    checkpoint between ticks); by default `mozukai_hub.sandbox.run_program` with `while_waiting`,
    whose exception (a cancellation) kills OpenSCAD and propagates. `hardwarnings`: OpenSCAD
    stops at the first warning (an unknown module or variable, an empty top-level object), so a
    model is whole or an error, never silently partial (the design chat checks its models so).
    """
    limit = timeout or settings.OPENSCAD_TIMEOUT_SECONDS
    if run is None:
        run = partial(run_program, while_waiting=while_waiting)
    try:
        result = run(
            [settings.OPENSCAD_BINARY, *(["--hardwarnings"] if hardwarnings else []), "-o", str(stl_path), str(scad_path)],
            cwd=scad_path.parent,
            timeout_seconds=limit, memory_bytes=OPENSCAD_MAX_MEMORY_BYTES, file_bytes=OPENSCAD_MAX_FILE_BYTES,
            cpu_seconds=limit + 5,  # single-threaded: CPU time cannot pass the wall clock by much
        )
    except ProgramMissing as exc:
        raise EngineError(str(exc), error_type="engine_unavailable")
    except ProgramTimeout:
        raise EngineError(f"OpenSCAD took longer than {limit} s.", error_type="timeout")
    log = result.output_tail
    if result.returncode != 0 or not stl_path.exists() or stl_path.stat().st_size == 0:
        last = log.strip().splitlines()[-1] if log.strip() else f"exit status {result.returncode}"
        raise EngineError(f"OpenSCAD failed: {last}", error_type="scad_error")
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
