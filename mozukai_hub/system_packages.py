"""The system programs Mozukai Hub runs, and the Debian packages that provide them: the one list.

    python3.11 -m mozukai_hub.system_packages run    # what `make run` / `make demo` need
    python3.11 -m mozukai_hub.system_packages test   # what `make test` needs (run's, plus the test services)

Missing packages are installed with apt-get when running as root (as `make test` always did for
PostgreSQL and Redis); otherwise the command stops at once, printing the exact command to run.
A feature that runs a new program (ffmpeg, espeak-ng, COLMAP) adds its package here, and both
commands follow. Standard library only: it runs before the virtualenv exists.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class SystemPackage:
    package: str  # the Debian package
    program: str  # the program the app runs, looked up on PATH …
    used_for: str
    needed_by: frozenset[str]  # "run" and/or "test"
    also_in: tuple[str, ...] = ()  # … or in these directories (globs), for programs kept off PATH

    def installed(self) -> bool:
        if shutil.which(self.program):
            return True
        return any(os.access(path, os.X_OK) for pattern in self.also_in for path in glob.glob(f"{pattern}/{self.program}"))


RUN_AND_TEST = frozenset({"run", "test"})
TEST = frozenset({"test"})

PACKAGES = [
    SystemPackage("openscad", "openscad", "text-to-3D jobs and the shop's 3D pot models", RUN_AND_TEST),
    SystemPackage("ffmpeg", "ffmpeg", "film rendering and video uploads", RUN_AND_TEST),
    SystemPackage("espeak-ng", "espeak-ng", "film narration", RUN_AND_TEST),
    SystemPackage("colmap", "colmap", "photogrammetry", RUN_AND_TEST),
    SystemPackage("tesseract-ocr", "tesseract", "tests read thumbnail headlines back (OCR)", TEST),
    SystemPackage("postgresql", "initdb", "the test suite's throwaway database", TEST, also_in=("/usr/lib/postgresql/*/bin",)),
    SystemPackage("redis-server", "redis-server", "the test suite's throwaway Redis", TEST),
    SystemPackage("chromium", "chromium", "the browser tests", TEST),
    SystemPackage("nginx", "nginx", "the production-stack tests (the reverse proxy of deploy/nginx/)", TEST,
                  also_in=("/usr/sbin",)),
]
PACKAGE_NAMES = {p.package: p for p in PACKAGES}


def missing(purpose: str) -> list[SystemPackage]:
    return [p for p in PACKAGES if purpose in p.needed_by and not p.installed()]


def install_command(packages: list[SystemPackage]) -> str:
    return "sudo apt-get update && sudo apt-get install -y " + " ".join(p.package for p in packages)


def apt_install(packages: list[str]) -> None:
    print(f"[system packages] installing {' '.join(packages)} with apt-get", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True, env=env)


def ensure(purpose: str) -> int:
    """0 when everything `purpose` needs is there (installing it as root); 2 with the command otherwise."""
    absent = missing(purpose)
    if absent and os.geteuid() == 0 and shutil.which("apt-get"):
        apt_install([p.package for p in absent])
        absent = missing(purpose)
    if not absent:
        return 0
    lines = [f"`make {purpose}` needs system packages that are not installed:"]
    lines += [f"  {p.package} ({p.program}): {p.used_for}" for p in absent]
    lines += ["Install them, then run the command again:", f"  {install_command(absent)}"]
    print("\n".join(lines), file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in {"run", "test"}:
        print("usage: python -m mozukai_hub.system_packages run|test", file=sys.stderr)
        return 2
    return ensure(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
