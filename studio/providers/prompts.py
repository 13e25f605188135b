"""What the remote image engines are asked for: a thumbnail backdrop from the project's text and
vibe, or a restyled photo per category.

A remote thumbnail image carries no text: the local text layer (`studio.thumbnail.render`) sets
the headline and subtext on it afterwards, so the words are spelled right, sized to their box,
kept out of the platform's safe zones and checked for contrast. The prompt places the subject and leaves the
text its room as the local layer will lay out that variant (variants differ in layout).
"""

from studio import presets
from studio.thumbnail.layout import Arrangement, is_portrait

MAX_FIELD_CHARS = 200


def _quoted(text: object) -> str:
    """A user's text as a single-line quotation (a prompt is no place for their line breaks)."""
    return " ".join(str(text or "").split())[:MAX_FIELD_CHARS].replace('"', "'")


def thumbnail_prompt(params: dict, variant: int, *, selfie: bool, reference: bool, composite: bool,
                     arrangement: Arrangement) -> str:
    """The instruction for one variant's image.

    `selfie`/`reference`: which uploads are sent with the prompt, in that order.
    `composite`: whether the model is asked to draw the person of the selfie itself (Gemini,
    Seedream); otherwise it draws only the backdrop and leaves the subject's place free.
    `arrangement`: the variant's layout as the local text layer will set it
    (`studio.thumbnail.layout.variant_arrangement`), so the picture leaves the text its room.
    """
    platform = presets.PLATFORMS.get(params.get("platform") or "")
    vibe = presets.VIBES.get(params.get("vibe") or "") or presets.VIBES["professional"]
    width, height = int(params.get("width") or 1280), int(params.get("height") or 720)
    if is_portrait(width, height):
        text_pos = arrangement.text_position
        subject_place = f"in the {'lower' if text_pos == 'top' else 'upper'} half of the frame"
        text_place = f"The {text_pos} half"
    else:
        side = arrangement.subject_side
        subject_place = f"on the {side} third of the frame"
        text_place = f"The {'left' if side == 'right' else 'right'} side"
    where = f"a {platform.name} thumbnail" if platform else "a video thumbnail"
    subtext = f' with the line "{_quoted(params.get("subtext"))}"' if params.get("subtext") else ""
    lines = [
        f"Create the image for {where} ({width}×{height} px).",
        f'The video is titled "{_quoted(params.get("title"))}"; its headline will read '
        f'"{_quoted(params.get("headline"))}"{subtext}: show that topic visually.',
        f"Style: {vibe.prompt}. Colours: {vibe.palette['background']} with {vibe.palette['accent']} accents.",
    ]
    order = 1
    if selfie and composite:
        lines.append(
            f"Image {order} is the person to feature: keep their face, features and identity faithful, with a clear, "
            f"expressive look, {subject_place}, filling about half of the frame's height."
        )
        order += 1
    if reference:
        lines.append(f"Image {order} is the reference for the setting, colours and mood (use its look, not its text).")
    if selfie and not composite:
        lines.append(f"Leave the area {subject_place} free of people: a portrait will be placed there.")
    lines.append(
        f"{text_place} stays calm and uncluttered with even tones: a headline will be set there afterwards. "
        "Do not draw any text, letters, numbers, logos or watermarks. Photographic, sharp, high contrast."
    )
    return "\n".join(lines)


# The photo generator's categories (seed 002), as the remote model is asked for them. The
# local engine does the same looks as code (`studio.generator.styling`).
PHOTO_STYLE_PROMPTS = {
    "portraits": (
        "Restyle this photo as a flattering professional portrait: warm natural skin tones, softly smoothed skin "
        "that keeps its texture, gentle light on the face, the background softly out of focus, a subtle vignette."
    ),
    "editorial": (
        "Restyle this photo as a magazine editorial image: a strong, deliberate colour grade, rich contrast, "
        "crisp detail and polished, fashion-style lighting."
    ),
    "documentary": (
        "Restyle this photo as black-and-white documentary photography: a natural tonal curve, deep blacks, "
        "visible fine film grain, honest and unposed."
    ),
}
PHOTO_STYLE_RULES = (
    "Keep the same people, faces, pose, framing and composition; change only the look. "
    "Do not add text, borders or watermarks. Answer with the edited image."
)


def photo_style_prompt(category: str) -> str:
    return f"{PHOTO_STYLE_PROMPTS[category]} {PHOTO_STYLE_RULES}"
