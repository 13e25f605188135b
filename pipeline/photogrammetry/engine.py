"""The local photogrammetry engine (seed 004, issue 14): photos → COLMAP sparse model on the CPU →
screened Poisson mesh → GLB (primary) + PLY, with a quality report.

Params (built by `pipeline.photogrammetry.services.photogrammetry_upload` after pre-flight, or
sent to `POST /jobs` by a client that built them itself; re-checked here):
    {"photos": [{"asset_id": str, "name": str}, …] (8–200, the owner's uploads),
     "quality": "fast" | "balanced", "name": str, "product_id": int | None (staff only),
     "single_camera": bool, "preflight": {…summary, dropped photos…}}

A sparse-only mesh is a coarse draft (the result says `"draft": true`): a GPU dense run (MVS
depth maps fused into millions of points) gives a detailed, textured surface.
"""

import shutil
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError

from mozukai_hub.sandbox import ProgramMissing, ProgramTimeout

from .. import services
from ..engines import BaseEngine, EngineError, register
from ..models import Asset, JobInput
from ..services.jobs import job_finished_listener_register
from .colmap import QUALITIES, ColmapProgress, ReconstructionError, reconstruct, registered_minimum
from .mesh import MeshError, mesh_build
from .products import product_attach_on_finish, product_id_check

PARAM_NAMES = {"photos", "quality", "name", "product_id", "single_camera", "preflight"}
COLMAP_FILE_BYTES = 8 * 1024 * 1024 * 1024


def _photos_clean(value) -> list[dict]:
    low, high = settings.PHOTOGRAMMETRY_MIN_PHOTOS, settings.PHOTOGRAMMETRY_MAX_PHOTOS
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise ValidationError({"photos": [f"Between {low} and {high} photos are needed."]})
    photos = []
    for item in value:
        if not isinstance(item, dict):
            raise ValidationError({"photos": ["Each photo is {asset_id, name}."]})
        try:
            asset_id = str(uuid.UUID(str(item.get("asset_id"))))
        except ValueError:
            raise ValidationError({"photos": ["Each photo needs an asset_id (a UUID)."]})
        name = str(item.get("name") or asset_id)[:255]
        photos.append({"asset_id": asset_id, "name": name})
    if len({p["asset_id"] for p in photos}) != len(photos):
        raise ValidationError({"photos": ["A photo is listed twice."]})
    return photos


def quality_in_words(quality: dict) -> str:
    """The report as a customer reads it."""
    registered, total = quality.get("registered_images"), quality.get("total_images")
    text = f"{registered} of {total} photos were placed in 3D"
    if quality.get("points") is not None:
        text += f", giving {quality['points']:,} surface points"
    error = quality.get("mean_reprojection_error_px")
    if error is not None:
        verdict = "very precise" if error < 0.7 else "precise" if error < 1.5 else "loose"
        text += f"; the fit is {verdict} (points land {error:.2f} px from where the photos saw them on average)"
    return text + "."


class PhotogrammetryLocal(BaseEngine):
    kind, name = "photogrammetry", "local"
    moderated_params = ("name",)

    def validate_params(self, params: dict, *, owner) -> dict:
        unknown = sorted(set(params) - PARAM_NAMES)
        if unknown:
            raise ValidationError({name: ["Unknown parameter."] for name in unknown})
        quality = str(params.get("quality") or "balanced").strip().lower()
        if quality not in QUALITIES:
            raise ValidationError({"quality": [f"One of: {', '.join(QUALITIES)}."]})
        name = str(params.get("name") or "").strip()
        if len(name) > 200:
            raise ValidationError({"name": ["At most 200 characters."]})
        preflight = params.get("preflight") or {}
        if not isinstance(preflight, dict):
            raise ValidationError({"preflight": ["An object (the pre-flight summary)."]})
        return {
            "photos": _photos_clean(params.get("photos")), "quality": quality, "name": name,
            "product_id": product_id_check(owner_user=owner.user, product_id=params.get("product_id")),
            "single_camera": bool(params.get("single_camera", True)), "preflight": preflight,
        }

    def input_asset_ids(self, params: dict) -> list[uuid.UUID]:
        return [uuid.UUID(p["asset_id"]) for p in params.get("photos", [])]

    def _program(self, ctx):
        def run(argv, *, on_line=None, env=None):
            # No cpu_seconds: COLMAP is multi-threaded, the job's wall-clock limit bounds it.
            return ctx.run_program(argv, timeout_seconds=self.time_limit_seconds, memory_bytes=settings.COLMAP_MEMORY_BYTES,
                                   file_bytes=COLMAP_FILE_BYTES, env=env, on_line=on_line)
        return run

    def _photos_copy(self, ctx) -> tuple[list[str], int]:
        images = ctx.workdir / "images"
        images.mkdir()
        by_id = {str(i.asset_ref): i.asset for i in JobInput.objects.filter(job=ctx.job).select_related("asset")}
        names = []
        for number, photo in enumerate(ctx.params["photos"], start=1):
            asset: Asset | None = by_id.get(photo["asset_id"])
            if asset is None or not asset.file:
                raise EngineError(f"The photo {photo['name']} is no longer available.", error_type="input_unavailable")
            with asset.file.open("rb") as source, (images / f"photo_{number:03d}.{asset.asset_type}").open("wb") as target:
                shutil.copyfileobj(source, target)
            names.append(photo["name"])
        return names, len(names)

    def run(self, ctx) -> dict:
        ctx.stage("processing")
        names, count = self._photos_copy(ctx)
        ctx.progress(3, "photos", f"{count} photos ready")
        run = self._program(ctx)
        progress = ColmapProgress(lambda percent, stage, message: ctx.progress(percent, stage, message), total_images=count)
        try:
            model = reconstruct(images=ctx.workdir / "images", workspace=ctx.workdir / "colmap", count=count,
                                single_camera=ctx.params.get("single_camera", True), quality=ctx.params["quality"],
                                run=run, progress=progress)
            quality = model.quality(total_images=count)
            services.job_event_append(job=ctx.job, type="log", data={"message": quality_in_words(quality), "quality": quality})
            if quality["registered_images"] < registered_minimum(count):
                raise EngineError(
                    f"Only {quality['registered_images']} of {count} photos could be placed in 3D; at least "
                    f"{registered_minimum(count)} are needed for a model. Take the photos closer together around the "
                    "object (each sharing about two-thirds of the previous one), in even light, of a textured surface. "
                    "Your credits were returned.",
                    error_type="reconstruction")
            ctx.progress(86, "meshing", "Building the surface from the 3D points")
            facts = mesh_build(model=model, workdir=ctx.workdir, run=run)
        except (ReconstructionError, MeshError) as exc:
            raise EngineError(f"{exc} Your credits were returned.", error_type="reconstruction")
        except ProgramTimeout as exc:
            raise EngineError(f"COLMAP did not finish in time: {exc}", error_type="timeout")
        except ProgramMissing as exc:
            raise EngineError(str(exc), error_type="engine_unavailable")
        except RuntimeError as exc:  # COLMAP itself failed (its last lines are in the job's log)
            raise EngineError(f"{exc}. Your credits were returned.", error_type="engine_error")
        ctx.checkpoint()
        registered = {image.name.rsplit(".", 1)[0] for image in model.images.values()}
        unregistered = [name for number, name in enumerate(names, start=1) if f"photo_{number:03d}" not in registered]
        outputs = [
            ctx.output(path=ctx.workdir / "model.glb", asset_type="glb", primary=True, content_type="model/gltf-binary"),
            ctx.output(path=ctx.workdir / "model.ply", asset_type="ply", content_type="application/octet-stream"),
        ]
        ctx.progress(98, "outputs", "Model stored")
        return {
            "quality": quality, "quality_text": quality_in_words(quality), "mesh": facts, "outputs": outputs,
            "draft": True, "unregistered_photos": unregistered, "dropped": ctx.params.get("preflight", {}).get("dropped", []),
            "product_id": ctx.params.get("product_id"),
            # Camera centres in the reconstruction's own frame (before the glTF transform), by photo.
            "cameras": [{"photo": names[int(image.name[6:9]) - 1], "center": [round(float(v), 6) for v in image.center]}
                        for image in sorted(model.images.values(), key=lambda i: i.name)],
        }


register(PhotogrammetryLocal())
job_finished_listener_register(name="photogrammetry.product_attach", listener=product_attach_on_finish)
