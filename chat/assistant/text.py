"""Reading OpenSCAD source out of a model's answer."""

import re

FENCE = re.compile(r"```[ \t]*(?:openscad|scad)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def scad_from_text(text: str) -> str:
    """The first fenced code block (```openscad …```), or the whole text when it has no fence."""
    if not text:
        return ""
    found = FENCE.search(text)
    if found:
        return found.group(1).strip() + "\n"
    if "```" in text:
        return ""  # an unterminated fence: a dropped answer, not SCAD
    return text.strip() + "\n" if text.strip() else ""
