"""Photo generator API (seed 002): `POST /api/v1/generate`, `GET /api/v1/generate/{job_id}`.

Open to anonymous visitors: a visitor's job is paid from its address's free credits and read
back with the token the POST answers once (`visitor_token`), sent as the `X-Visitor-Token`
header or `?visitor_token=` (the same token reads the job through `/api/v1/jobs/{id}` and its
websocket). A signed-in caller reads its own jobs without one. Anyone else: 404.
"""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from mozukai_hub.api.serializers import StrictSerializer
from pipeline import storage
from pipeline.api.views import VISITOR_PARAMETERS, visitor_token
from pipeline.models import Job
from pipeline.owners import JobOwner

from . import selectors, services
from .engine import category_clean
from .styling import CATEGORIES

class GenerateInput(StrictSerializer):
    file = serializers.FileField(required=False, help_text="The photo: PNG, JPEG or WebP, at most 20 MB and 40 MP.")
    image = serializers.FileField(required=False, help_text="Alias of file.")
    category = serializers.CharField(max_length=40, help_text=f"One of: {', '.join(CATEGORIES)}.")
    model = serializers.CharField(required=False, max_length=32,
                                  help_text="The engine: `local` (default: PHOTO_STYLE_ENGINE) or `openrouter` when configured.")
    engine = serializers.CharField(required=False, max_length=32, write_only=True, help_text="Alias of model.")

    def validate_category(self, value):
        try:
            return category_clean(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["category"])

    def validate(self, attrs):
        photos = [attrs.pop(name) for name in ("file", "image") if name in attrs]
        if len(photos) != 1:
            raise serializers.ValidationError({"file": ["Send one photo, as `file` (or `image`)."]})
        attrs["photo"] = photos[0]
        engines = {attrs.pop(name) for name in ("model", "engine") if name in attrs}
        if len(engines) > 1:
            raise serializers.ValidationError({"model": ["Give model or engine (they are the same), not two values."]})
        attrs["engine"] = engines.pop() if engines else None
        return attrs


class GenerateCreated(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.CharField()
    category = serializers.CharField()
    cost_credits = serializers.IntegerField()
    visitor_token = serializers.CharField(allow_null=True, help_text="Anonymous visitors only, answered once: it reads the job.")


class GenerateStatus(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    stage = serializers.CharField()
    category = serializers.CharField()
    cost_credits = serializers.IntegerField()
    outputUrl = serializers.CharField(allow_null=True, help_text="A signed download link of the styled photo once completed.")
    output_url = serializers.CharField(allow_null=True, help_text="Alias of outputUrl.")
    error = serializers.CharField(allow_null=True)
    error_type = serializers.CharField(allow_null=True)
    input_url = serializers.CharField(allow_null=True, help_text="A signed link of the photo the job was made from.")
    expires_in = serializers.IntegerField(allow_null=True, help_text="Seconds the links stay valid.")


def _link(request, asset) -> str | None:
    return storage.download_url(asset=asset, request=request)[0] if asset is not None else None


class GenerateView(APIView):
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "uploads"

    @extend_schema(
        operation_id="generate_create", request={"multipart/form-data": GenerateInput}, responses={201: GenerateCreated},
        summary="Style a photo (portraits, editorial, documentary) for one credit; anonymous visitors spend the "
                "free credits of their address (402 when none is left). Bad photo or category: 400, nothing spent.",
    )
    def post(self, request):
        data = GenerateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        job = services.photo_job_create(owner=JobOwner.from_request(request), upload=v["photo"], category=v["category"],
                                        engine=v["engine"])
        return Response({"job_id": str(job.pk), "status": job.status, "category": job.params["category"],
                         "cost_credits": job.credit_cost, "visitor_token": getattr(job, "visitor_token", None) or None},
                        status=status.HTTP_201_CREATED)


class GenerateStatusView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="generate_retrieve", parameters=VISITOR_PARAMETERS, responses=GenerateStatus,
                   summary="A photo job's status and, once completed, a signed link to the styled photo.")
    def get(self, request, job_id):
        job = selectors.photo_job_get_for_caller(user=request.user, job_id=job_id, visitor_token=visitor_token(request))
        url = _link(request, selectors.photo_job_output(job=job)) if job.status == Job.Status.COMPLETED else None
        return Response({
            "job_id": str(job.pk), "status": job.status, "progress": job.progress, "stage": job.stage,
            "category": job.params.get("category"), "cost_credits": job.credit_cost,
            "outputUrl": url, "output_url": url, "error": job.error or None, "error_type": job.error_type or None,
            "input_url": _link(request, selectors.photo_job_input(job=job)),
            "expires_in": settings.PIPELINE_DOWNLOAD_URL_SECONDS if url else None,
        })
