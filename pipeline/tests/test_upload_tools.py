"""ffprobe/ffmpeg for video uploads run in the program sandbox (`mozukai_hub.sandbox.run_program`).

Stand-in programs on PATH play ffprobe here: one that hangs (and forks a helper, as a real tool
or a hostile input can make it do), and a PATH without the tools at all.
"""

import io
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mozukai_hub.testing.polling import wait_until
from pipeline.models import Asset
from pipeline.sniff import Rejected
from pipeline.uploads import upload_clean

MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64  # sniffed as MP4


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a killed process nobody has reaped yet is dead


@pytest.fixture
def hanging_ffprobe(tmp_path, monkeypatch):
    """An `ffprobe` first on PATH that starts a helper in the background and then hangs."""
    tools = tmp_path / "tools"
    tools.mkdir()
    pid_file = tmp_path / "helper.pid"
    script = tools / "ffprobe"
    script.write_text(f"#!/bin/sh\nsleep 300 >/dev/null 2>&1 &\necho $! > {pid_file}\nexec sleep 300\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    return pid_file


def test_a_probe_that_hangs_is_refused_and_its_whole_process_group_killed(hanging_ffprobe, settings):
    settings.PIPELINE_UPLOAD_PROBE_SECONDS = 1
    with pytest.raises(Rejected, match="within 1 seconds"):
        with upload_clean(io.BytesIO(MP4_HEAD), size=len(MP4_HEAD)):
            pass
    helper = int(wait_until(lambda: hanging_ffprobe.exists() and hanging_ffprobe.read_text().strip()))
    # Not only the program: what it started is gone too (a plain subprocess timeout leaves it).
    wait_until(lambda: not _alive(helper), timeout=5, message=f"helper {helper} survived the timeout")


@pytest.mark.django_db
def test_video_uploads_without_the_tools_are_503_and_store_nothing(auth_client, user, tmp_path, monkeypatch):
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # neither ffprobe nor prlimit
    response = auth_client.post("/api/v1/assets/upload", {"file": SimpleUploadedFile("clip.mp4", MP4_HEAD)},
                                format="multipart")
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "upload_check_unavailable"
    assert "not installed" in response.json()["error"]["message"]
    assert Asset.objects.count() == 0
