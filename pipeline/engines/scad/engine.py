"""Local engines for text_to_3d (prompt → template → OpenSCAD) and scad_render (given SCAD)."""

from django.core.exceptions import ValidationError

from mozukai_hub.api.errors import ApplicationError

from .. import BaseEngine, EngineError, register
from .render import openscad_render, scad_source_check, stl_to_glb
from .requirements import SUPPORTED, requirements_from_prompt
from .templates import model_from_requirements

OUTPUT_FORMATS = ("glb", "stl")


def _output_format(params: dict) -> str:
    value = str(params.get("output_format") or "glb").strip().lower()
    if value not in OUTPUT_FORMATS:
        raise ValidationError({"output_format": [f"Must be one of: {', '.join(OUTPUT_FORMATS)}."]})
    return value


def render_outputs(ctx, *, scad: str, output_format: str, hardwarnings: bool = False) -> dict:
    scad_path, stl_path, glb_path = ctx.workdir / "model.scad", ctx.workdir / "model.stl", ctx.workdir / "model.glb"
    scad_path.write_text(scad)
    outputs = [ctx.output(path=scad_path, asset_type="scad", content_type="text/plain")]
    ctx.progress(30, "openscad", "Rendering with OpenSCAD")
    # its output goes to the job's log
    openscad_render(scad_path=scad_path, stl_path=stl_path, run=ctx.run_program, hardwarnings=hardwarnings)
    ctx.progress(70, "mesh", "Converting STL to GLB")
    facts = stl_to_glb(stl_path=stl_path, glb_path=glb_path)
    ctx.checkpoint()
    outputs.append(ctx.output(path=stl_path, asset_type="stl", primary=output_format == "stl", content_type="model/stl"))
    outputs.append(ctx.output(path=glb_path, asset_type="glb", primary=output_format == "glb", content_type="model/gltf-binary"))
    ctx.progress(95, "outputs", "Outputs stored")
    return {"mesh": facts, "outputs": outputs, "output_format": output_format}


def model_summary(model) -> str:
    """The model in words for the customer's job log, e.g. "Bonsai pot: 120 × 120 × 40 mm, 1 drainage hole of 12 mm"."""
    size = " × ".join(f"{round(v, 1):g}" for v in model.bbox_mm)
    text = f"{model.template.replace('_', ' ').capitalize()}: {size} mm"
    holes = int(model.parameters.get("holes") or 0)
    if holes:
        text += f", {holes} drainage hole{'s' if holes > 1 else ''} of {round(model.parameters['hole_d'], 1):g} mm"
    return text


class TextTo3DLocal(BaseEngine):
    kind, name = "text_to_3d", "local"
    moderated_params = ("prompt",)

    def is_configured(self) -> bool:
        return True

    def validate_params(self, params: dict, *, owner) -> dict:
        prompt = str(params.get("prompt") or "").strip()
        if not prompt:
            raise ValidationError({"prompt": ["This field is required."]})
        if len(prompt) > 2000:
            raise ValidationError({"prompt": ["At most 2000 characters."]})
        unknown = sorted(set(params) - {"prompt", "output_format"})
        if unknown:
            raise ValidationError({name: ["Unknown parameter."] for name in unknown})
        return {"prompt": prompt, "output_format": _output_format(params)}

    def run(self, ctx) -> dict:
        ctx.stage("processing")
        requirements = requirements_from_prompt(ctx.params["prompt"])
        if requirements["model_type"] is None:
            raise EngineError(
                "Could not tell what to model from the prompt; the local engine makes: "
                + ", ".join(t.replace("_", " ") for t in SUPPORTED) + ".",
                error_type="unsupported_prompt",
            )
        try:
            model = model_from_requirements(requirements)
        except ApplicationError as exc:
            raise EngineError(exc.message, error_type="bad_dimensions")
        ctx.progress(15, "requirements", model_summary(model))
        result = render_outputs(ctx, scad=model.scad, output_format=ctx.params["output_format"])
        return {"requirements": requirements, "template": model.template, "parameters": model.parameters,
                "expected_bbox_mm": list(model.bbox_mm), **result}


class ScadRenderLocal(BaseEngine):
    kind, name = "scad_render", "local"
    moderated_params = ("prompt",)

    def is_configured(self) -> bool:
        return True

    def validate_params(self, params: dict, *, owner) -> dict:
        scad = str(params.get("scad") or "")
        if not scad.strip():
            raise ValidationError({"scad": ["This field is required."]})
        problems = scad_source_check(scad)
        if problems:
            raise ValidationError({"scad": problems})
        unknown = sorted(set(params) - {"scad", "output_format", "prompt", "hardwarnings"})
        if unknown:
            raise ValidationError({name: ["Unknown parameter."] for name in unknown})
        if not isinstance(params.get("hardwarnings", False), bool):
            raise ValidationError({"hardwarnings": ["Must be true or false."]})
        return {"scad": scad, "output_format": _output_format(params), **({"prompt": params["prompt"]} if params.get("prompt") else {}),
                **({"hardwarnings": True} if params.get("hardwarnings") else {})}

    def run(self, ctx) -> dict:
        ctx.stage("processing")
        return render_outputs(ctx, scad=ctx.params["scad"], output_format=ctx.params["output_format"],
                              hardwarnings=bool(ctx.params.get("hardwarnings")))


register(TextTo3DLocal())
register(ScadRenderLocal())
