"""Sparse reconstruction with COLMAP 3.8 on the CPU, and what we read back from it.

Every COLMAP call goes through a `run` callable with the sandbox's signature
(`JobContext.run_program` in a job, `mozukai_hub.sandbox.run_program` elsewhere), with the GPU
switched off (`--SiftExtraction.use_gpu 0 --SiftMatching.use_gpu 0`: COLMAP's GPU default needs
an OpenGL context and aborts on a headless worker) and Qt told there is no display.

Steps: `feature_extractor` (one shared camera when all photos have one size), then
`exhaustive_matcher` up to EXHAUSTIVE_MAX_IMAGES photos (every pair: best for an orbit of a
product) and `sequential_matcher` beyond (each photo against its 12 neighbours in name order, with
quadratic overlap; its loop detection needs a vocabulary tree file we do not ship, so it stays
off), then `mapper`. The mapper may split a poorly connected set into several models;
the one with the most registered images is kept. Progress comes from COLMAP's own log lines
(images extracted, blocks/images matched, images registered).
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings

EXHAUSTIVE_MAX_IMAGES = 60
# SIFT features per image: matching time grows with their square, and a sparse cloud for a
# draft mesh does not need COLMAP's default 8192.
MAX_FEATURES = {"fast": 2048, "balanced": 4096}
QUALITIES = tuple(MAX_FEATURES)
NO_GPU = ["--SiftExtraction.use_gpu", "0"]
NO_GPU_MATCHING = ["--SiftMatching.use_gpu", "0"]

_PROCESSED = re.compile(r"Processed file \[(\d+)/(\d+)\]")
_BLOCK = re.compile(r"Matching block \[(\d+)/(\d+), (\d+)/(\d+)\]")
_SEQUENTIAL = re.compile(r"Matching image \[(\d+)/(\d+)\]")
_REGISTERING = re.compile(r"Registering image #\d+ \((\d+)\)")
_ANALYZER = re.compile(r"^\s*(?:I\d+ [\d:.]+ +\d+ \S+\] )?([A-Za-z ]+):\s*([\d.]+)", re.M)


class ReconstructionError(Exception):
    """COLMAP ran but produced no usable model; the message is meant for the customer."""


@dataclass
class Camera:
    model: str
    width: int
    height: int
    params: list[float]

    @property
    def focal_px(self) -> float:
        if self.model in {"SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL", "SIMPLE_RADIAL_FISHEYE", "RADIAL_FISHEYE"}:
            return self.params[0]
        return (self.params[0] + self.params[1]) / 2  # PINHOLE, OPENCV, …: fx, fy


@dataclass
class Image:
    name: str
    camera_id: int
    rotation: np.ndarray  # world → camera
    translation: np.ndarray

    @property
    def center(self) -> np.ndarray:
        return -self.rotation.T @ self.translation


@dataclass
class SparseModel:
    cameras: dict[int, Camera]
    images: dict[int, Image]
    xyz: np.ndarray  # (n, 3)
    rgb: np.ndarray  # (n, 3) uint8
    errors: np.ndarray  # (n,) mean reprojection error of each point, px
    tracks: list[np.ndarray] = field(default_factory=list)  # image ids observing each point

    def quality(self, *, total_images: int) -> dict:
        lengths = [len(t) for t in self.tracks]
        focals = [c.focal_px for c in self.cameras.values()]
        return {
            "registered_images": len(self.images),
            "total_images": total_images,
            "points": int(len(self.xyz)),
            "mean_reprojection_error_px": round(float(self.errors.mean()), 3) if len(self.errors) else None,
            "mean_track_length": round(float(np.mean(lengths)), 2) if lengths else None,
            "focal_px": round(float(np.mean(focals)), 1) if focals else None,
        }


def _quaternion_to_rotation(qw: float, qx: float, qy: float, qz: float) -> np.ndarray:
    return np.array([
        [1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qw * qz), 2 * (qx * qz + qw * qy)],
        [2 * (qx * qy + qw * qz), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qw * qx)],
        [2 * (qx * qz - qw * qy), 2 * (qy * qz + qw * qx), 1 - 2 * (qx * qx + qy * qy)],
    ])


def _data_lines(path: Path):
    with path.open() as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                yield line


def model_read_text(directory: Path) -> SparseModel:
    """A model written by `colmap model_converter --output_type TXT`."""
    cameras = {}
    for line in _data_lines(directory / "cameras.txt"):
        words = line.split()
        cameras[int(words[0])] = Camera(words[1], int(words[2]), int(words[3]), [float(w) for w in words[4:]])
    images = {}
    lines = _data_lines(directory / "images.txt")
    for line in lines:
        words = line.split()
        next(lines, None)  # the image's 2D points: not needed
        qw, qx, qy, qz, tx, ty, tz = (float(w) for w in words[1:8])
        images[int(words[0])] = Image(" ".join(words[9:]), int(words[8]), _quaternion_to_rotation(qw, qx, qy, qz),
                                      np.array([tx, ty, tz]))
    xyz, rgb, errors, tracks = [], [], [], []
    for line in _data_lines(directory / "points3D.txt"):
        words = line.split()
        xyz.append([float(w) for w in words[1:4]])
        rgb.append([int(w) for w in words[4:7]])
        errors.append(float(words[7]))
        tracks.append(np.array(words[8::2], dtype=np.int64))
    return SparseModel(cameras, images, np.array(xyz, dtype=np.float64).reshape(-1, 3),
                       np.array(rgb, dtype=np.uint8).reshape(-1, 3), np.array(errors), tracks)


class ColmapProgress:
    """Turns COLMAP's log lines into (percent, stage, message) calls, at most one per change.

    Percent bands: features 5–25, matching 25–60, mapping 60–85 (meshing follows).
    """

    def __init__(self, report: Callable[[int, str, str], None], *, total_images: int):
        self.report, self.total = report, total_images
        self.last: tuple[int, str] | None = None

    def _emit(self, percent: int, stage: str, message: str) -> None:
        if self.last != (percent, stage):
            self.last = (percent, stage)
            self.report(percent, stage, message)

    def line(self, text: str) -> None:
        if match := _PROCESSED.search(text):
            done, total = int(match[1]), int(match[2])
            self._emit(5 + 20 * done // max(total, 1), "features", f"Finding features: photo {done} of {total}")
        elif match := _BLOCK.search(text):
            i, n, j, m = (int(g) for g in match.groups())
            done, total = (i - 1) * m + j, n * m
            self._emit(25 + 35 * done // max(total, 1), "matching", f"Matching photos: block {done} of {total}")
        elif match := _SEQUENTIAL.search(text):
            done, total = int(match[1]), int(match[2])
            self._emit(25 + 35 * done // max(total, 1), "matching", f"Matching photos: {done} of {total}")
        elif match := _REGISTERING.search(text):
            done = int(match[1])
            self._emit(60 + 25 * min(done, self.total) // max(self.total, 1), "mapping",
                       f"Placing cameras: {done} of {self.total} photos registered")


def colmap_env() -> dict:
    return {"QT_QPA_PLATFORM": "offscreen"}


def _check(result, step: str) -> None:
    if result.returncode != 0:
        tail = result.output_tail.strip().splitlines()[-3:]
        raise RuntimeError(f"COLMAP {step} exited with status {result.returncode}: {' / '.join(tail)}")


def commands(*, images: Path, workspace: Path, count: int, single_camera: bool, quality: str) -> list[tuple[str, list[str]]]:
    """The COLMAP steps for a set of `count` photos, as (step, argv) in order."""
    binary = settings.COLMAP_BINARY
    database = workspace / "database.db"
    sparse = workspace / "sparse"
    extract = [binary, "feature_extractor", "--database_path", str(database), "--image_path", str(images),
               "--ImageReader.single_camera", "1" if single_camera else "0",
               "--SiftExtraction.max_num_features", str(MAX_FEATURES[quality]), *NO_GPU]
    if count <= EXHAUSTIVE_MAX_IMAGES:
        # Blocks of 10 photos: the same pairs as one block, but the log says how far it got.
        match = [binary, "exhaustive_matcher", "--database_path", str(database),
                 "--ExhaustiveMatching.block_size", "10", *NO_GPU_MATCHING]
    else:
        match = [binary, "sequential_matcher", "--database_path", str(database), "--SequentialMatching.overlap", "12",
                 "--SequentialMatching.quadratic_overlap", "1", *NO_GPU_MATCHING]
    mapper = [binary, "mapper", "--database_path", str(database), "--image_path", str(images),
              "--output_path", str(sparse)]
    return [("features", extract), ("matching", match), ("mapping", mapper)]


def _registered(analyzer_output: str) -> int:
    values = {name.strip().lower(): value for name, value in _ANALYZER.findall(analyzer_output)}
    return int(float(values.get("registered images", 0)))


def reconstruct(*, images: Path, workspace: Path, count: int, single_camera: bool, quality: str, run: Callable,
                progress: ColmapProgress | None = None) -> SparseModel:
    """Run the COLMAP steps with `run(argv, on_line=…, env=…)` and read back the largest model.

    Raises ReconstructionError when no model came out.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "sparse").mkdir(exist_ok=True)
    on_line = progress.line if progress else None
    for step, argv in commands(images=images, workspace=workspace, count=count, single_camera=single_camera,
                               quality=quality):
        result = run(argv, on_line=on_line, env=colmap_env())
        if step == "mapping" and result.returncode != 0 and "failed to create sparse model" in result.output_tail:
            break  # COLMAP's way of saying no two photos could start a model: answered below
        _check(result, step)
    models = sorted(p for p in (workspace / "sparse").iterdir() if p.is_dir())
    if not models:
        raise ReconstructionError(
            "The photos could not be joined into one 3D scene: too few of them share enough detail. "
            "Take photos with more overlap (each one sharing about two-thirds with the next), of a textured object, "
            "in even light.")
    best, best_count = models[0], -1
    for model in models:
        analyzed = run([settings.COLMAP_BINARY, "model_analyzer", "--path", str(model)], on_line=None, env=colmap_env())
        registered = _registered(analyzed.output_tail)
        if registered > best_count:
            best, best_count = model, registered
    text = workspace / "model-txt"
    text.mkdir(exist_ok=True)
    _check(run([settings.COLMAP_BINARY, "model_converter", "--input_path", str(best), "--output_path", str(text),
                "--output_type", "TXT"], on_line=None, env=colmap_env()), "model_converter")
    return model_read_text(text)


def registered_minimum(total: int) -> int:
    """Fewest registered photos a model needs to be worth meshing: half the set, and never fewer than 5."""
    return max(5, math.ceil(total * 0.5))
