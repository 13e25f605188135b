"""Seed 004's photogrammetry API under /api/v1/: upload, status, download (+ a pre-flight check).

- `POST pipeline/preflight`: the per-photo verdicts of a set; nothing stored, nothing charged.
- `POST pipeline/upload`: 202 `{job_id, status, photos, preflight}`; a 400 `preflight_failed`
  (with the verdicts) when too few photos pass.
- `GET pipeline/status/{job_id}`: `{job_id, status, stage, progress, preflight, quality, error, error_type, …}`.
- `GET pipeline/download/{job_id}?format=glb|ply`: a 302 to a signed, expiring URL of the model.

The job itself is an ordinary job: `GET jobs/{id}`, its events, websocket and cancel apply.
"""

from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from mozukai_hub.api.errors import ApplicationError
from mozukai_hub.api.serializers import StrictSerializer

from .. import selectors, storage
from ..models import Job, JobEvent
from ..owners import JobOwner
from .colmap import QUALITIES
from .engine import quality_in_words
from .services import photogrammetry_preflight, photogrammetry_upload

DOWNLOAD_FORMATS = ("glb", "ply")


class JSONOnly(DefaultContentNegotiation):
    """`?format=` names the model's file format here, not DRF's renderer override: always JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class UploadSerializer(StrictSerializer):
    images = serializers.ListField(child=serializers.FileField(allow_empty_file=True), required=False, default=list)
    files = serializers.ListField(child=serializers.FileField(allow_empty_file=True), required=False, default=list)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    product_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1)
    quality = serializers.ChoiceField(choices=QUALITIES, required=False, default="balanced")


class PreflightSerializer(StrictSerializer):
    images = serializers.ListField(child=serializers.FileField(allow_empty_file=True), required=False, default=list)
    files = serializers.ListField(child=serializers.FileField(allow_empty_file=True), required=False, default=list)


PREFLIGHT_SCHEMA = inline_serializer("PhotogrammetryPreflight", {
    "ok": serializers.BooleanField(), "total": serializers.IntegerField(), "accepted": serializers.IntegerField(),
    "minimum": serializers.IntegerField(), "single_camera": serializers.BooleanField(),
    "camera_groups": serializers.JSONField(help_text="[{group, width, height, focal_length_mm, photos}]"),
    "dropped": serializers.JSONField(help_text="[{name, reasons}]"), "summary": serializers.CharField(),
    "photos": serializers.JSONField(help_text="per photo: name, ok, problems, width, height, sharpness, clipped_share, "
                                              "focal_length_mm, focal_length_35mm, orientation, camera_group, duplicate_of"),
})
STATUS_SCHEMA = inline_serializer("PhotogrammetryStatus", {
    "job_id": serializers.UUIDField(), "status": serializers.CharField(), "stage": serializers.CharField(),
    "progress": serializers.IntegerField(), "preflight": serializers.JSONField(),
    "quality": serializers.JSONField(allow_null=True, help_text="registered_images, total_images, points, "
                                     "mean_reprojection_error_px, mean_track_length, focal_px"),
    "quality_text": serializers.CharField(allow_null=True), "error": serializers.CharField(),
    "error_type": serializers.CharField(), "name": serializers.CharField(), "draft": serializers.BooleanField(),
    "downloads": serializers.JSONField(), "mesh": serializers.JSONField(allow_null=True),
})


def _validated(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _quality(job: Job) -> dict | None:
    """From the result once completed; before that (or on a failed run) from the report the engine logged."""
    if job.result.get("quality"):
        return job.result["quality"]
    event = (JobEvent.objects.filter(job=job, type=JobEvent.Type.LOG, data__has_key="quality")
             .order_by("-seq").values_list("data", flat=True).first())
    return event["quality"] if event else None


def status_body(job: Job) -> dict:
    quality = _quality(job)
    completed = job.status == Job.Status.COMPLETED
    base = f"/api/v1/pipeline/download/{job.pk}?format="
    return {
        "job_id": str(job.pk), "status": job.status, "stage": job.stage, "progress": job.progress,
        "preflight": job.params.get("preflight", {}), "quality": quality,
        "quality_text": quality_in_words(quality) if quality else None, "error": job.error,
        "error_type": job.error_type, "name": job.params.get("name", ""), "draft": True,
        "downloads": {fmt: base + fmt for fmt in DOWNLOAD_FORMATS} if completed else {},
        "mesh": job.result.get("mesh") if completed else None,
    }


def _photogrammetry_job(request, job_id) -> Job:
    job = selectors.job_get_for_user(user=request.user, job_id=job_id)
    if job.kind != Job.Kind.PHOTOGRAMMETRY:
        raise ApplicationError("No photogrammetry job with this id.", code="not_found", status_code=404)
    return job


class PreflightView(APIView):
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "uploads"

    @extend_schema(request={"multipart/form-data": PreflightSerializer}, responses={200: PREFLIGHT_SCHEMA})
    def post(self, request):
        v = _validated(PreflightSerializer, request)
        return Response(photogrammetry_preflight(uploads=[*v["images"], *v["files"]]).as_dict())


class UploadView(APIView):
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "uploads"

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={202: inline_serializer(
        "PhotogrammetryUploaded", {"job_id": serializers.UUIDField(), "status": serializers.CharField(),
                                   "photos": serializers.IntegerField(), "preflight": PREFLIGHT_SCHEMA})})
    def post(self, request):
        v = _validated(UploadSerializer, request)
        job, report = photogrammetry_upload(
            owner=JobOwner.from_request(request), uploads=[*v["images"], *v["files"]], name=v["name"],
            product_id=v.get("product_id"), quality=v["quality"],
        )
        return Response({"job_id": str(job.pk), "status": job.status, "photos": len(report.good),
                         "preflight": report.as_dict()}, status=status.HTTP_202_ACCEPTED)


class StatusView(APIView):
    @extend_schema(responses=STATUS_SCHEMA)
    def get(self, request, job_id):
        return Response(status_body(_photogrammetry_job(request, job_id)))


class DownloadView(APIView):
    content_negotiation_class = JSONOnly

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=list(DOWNLOAD_FORMATS))],
                   responses={302: None})
    def get(self, request, job_id):
        job = _photogrammetry_job(request, job_id)
        wanted = (request.query_params.get("format") or "glb").lower()
        if wanted not in DOWNLOAD_FORMATS:
            raise ApplicationError(f"format is one of: {', '.join(DOWNLOAD_FORMATS)}.", code="validation_error")
        asset = next((a for a in job.asset_list if a.file and a.asset_type == wanted), None)
        if job.status != Job.Status.COMPLETED or asset is None:
            raise ApplicationError("The model is not ready (the job has not completed).", code="not_ready",
                                   status_code=404)
        url, _ = storage.download_url(asset=asset, request=request)
        return HttpResponseRedirect(url)
