"""One rendered scene per test session (pipeline.photogrammetry.synthetic), cached on disk."""

import os
from pathlib import Path

import numpy as np
import pytest

from pipeline.photogrammetry.synthetic import SceneTruth, render_scene, similarity_align

SCENE_VIEWS = 16


@pytest.fixture(scope="session")
def scene(tmp_path_factory) -> tuple[Path, SceneTruth]:
    """16 views (640×480) of the bonsai scene and the truth; rendered once per session."""
    directory = tmp_path_factory.getbasetemp() / f"photogrammetry-scene-{SCENE_VIEWS}-{os.getpid()}"
    truth_file = directory / "truth.json"
    if truth_file.exists():
        return directory, SceneTruth.from_json(truth_file.read_text())
    return directory, render_scene(directory, views=SCENE_VIEWS)


def scene_files(directory: Path, truth: SceneTruth) -> list[Path]:
    return [directory / name for name in truth.names]


def centres_error(result_cameras: list[dict], truth: SceneTruth) -> float:
    """Largest distance between reconstructed and true camera centres after a similarity
    alignment, as a share of the orbit's radius."""
    by_name = dict(zip(truth.names, truth.centers))
    found = np.array([c["center"] for c in result_cameras])
    true = np.array([by_name[c["photo"]] for c in result_cameras])
    scale, rotation, translation = similarity_align(found, true)
    aligned = (scale * (rotation @ found.T)).T + translation
    radius = float(np.median(np.linalg.norm(true[:, :2], axis=1)))
    return float(np.linalg.norm(aligned - true, axis=1).max()) / radius

