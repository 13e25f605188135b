"""`make run` / `make test` check their system packages first and name the exact command."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mozukai_hub.system_packages import PACKAGES

ROOT = Path(__file__).resolve().parents[2]


def check(purpose: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mozukai_hub.system_packages", purpose], cwd=ROOT, env={**os.environ, "PATH": path},
        capture_output=True, text=True, timeout=30,
    )


def fake_programs(directory: Path, names) -> str:
    directory.mkdir()
    for name in names:
        program = directory / name
        program.write_text("#!/bin/sh\nexit 0\n")
        program.chmod(0o755)
    return str(directory)


RUN_PROGRAMS = ["openscad", "ffmpeg", "espeak-ng", "colmap"]


def test_run_check_names_the_exact_command_when_openscad_is_missing(tmp_path):
    # No apt-get on PATH either, so even as root it cannot install and must stop at once.
    result = check("run", fake_programs(tmp_path / "bin", [p for p in RUN_PROGRAMS if p != "openscad"]))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "  sudo apt-get update && sudo apt-get install -y openscad"
    assert "openscad (openscad): text-to-3D jobs" in result.stderr


def test_run_check_passes_quietly_when_everything_is_there(tmp_path):
    result = check("run", fake_programs(tmp_path / "bin", RUN_PROGRAMS))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_test_check_lists_every_missing_package_of_the_one_list(tmp_path):
    result = check("test", fake_programs(tmp_path / "bin", RUN_PROGRAMS))
    assert result.returncode == 2
    command = result.stderr.splitlines()[-1]
    assert "openscad" not in command and "ffmpeg" not in command
    assert "redis-server" in command and "chromium" in command and "tesseract-ocr" in command


def test_make_checks_system_packages_before_anything_else():
    for target, purpose in (("run", "run"), ("demo", "run"), ("test", "test")):
        plan = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
        check_line = plan.index(f"-m mozukai_hub.system_packages {purpose}")
        assert check_line < plan.index("manage.py"), target


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.package)
def test_every_package_is_installed_here(package):
    # This machine runs `make test`: what the list names must really be found where it looks.
    assert package.installed(), f"{package.program} not found: apt-get install -y {package.package}"
