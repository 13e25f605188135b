"""The narration voices: whatever espeak-ng has installed, read once per process.

`espeak-ng --voices` prints one voice per line: priority, language, age/gender, name, file and
other languages. A film's `voice` is the language code (`en`, `en-us`, `fr`, …), which is what
`espeak-ng -v` takes.
"""

import functools
import subprocess

from django.conf import settings

DEFAULT_VOICE = "en-us"
SPEED_RANGE = (80, 400)  # words per minute (espeak-ng -s); its own default is 175
DEFAULT_SPEED = 165
PITCH_RANGE = (0, 99)  # espeak-ng -p; its own default is 50
DEFAULT_PITCH = 50


@functools.cache
def voices_list() -> tuple[dict, ...]:
    """[{code, name, gender}] of the installed voices, sorted by code; empty if espeak-ng is absent."""
    try:
        out = subprocess.run([settings.ESPEAK_BINARY, "--voices"], capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    voices = {}
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 5:
            continue
        code, gender, name = parts[1], parts[2].split("/")[-1], parts[3].replace("_", " ")
        voices.setdefault(code, {"code": code, "name": name, "gender": {"M": "male", "F": "female"}.get(gender, "")})
    return tuple(sorted(voices.values(), key=lambda v: v["code"]))


def voice_codes() -> set[str]:
    return {v["code"] for v in voices_list()}
