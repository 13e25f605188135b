"""Jobs, assets and asset-meta API (seeds 001 and 003). Views parse, call one service, render.

An anonymous visitor's job (`pipeline.owners`) is read with the token handed out when it was
created, sent in the `X-Visitor-Token` header (or `?visitor_token=`, for links and websockets):
`GET jobs/{id}`, `jobs/{id}/events`, `jobs/{id}/download-url`, `assets?job_id=`,
`assets/{id}/download-url` and `POST jobs/{id}/cancel`. The token grants that access to whoever
presents it, signed in or not; a wrong one is a 404 like a missing job. Everything else stays
signed-in only.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from mozukai_hub.api.errors import ApplicationError
from mozukai_hub.api.fields import query_int

from .. import selectors, services, storage
from ..models import Asset
from ..owners import JobOwner
from ..transitions import normalize_status
from ..uploads import CONTENT_TYPES
from . import hooks
from . import serializers as s


VISITOR_TOKEN_HEADER = "X-Visitor-Token"
VISITOR_TOKEN_QUERY = "visitor_token"

VISITOR_PARAMETERS = [
    OpenApiParameter(
        VISITOR_TOKEN_HEADER, str, OpenApiParameter.HEADER, required=False,
        description="An anonymous visitor's job token (returned once when the job was created): reads that "
                    "job and its outputs without signing in. A wrong token answers 404, as for a missing job.",
    ),
    OpenApiParameter(
        VISITOR_TOKEN_QUERY, str, OpenApiParameter.QUERY, required=False,
        description=f"The same token as a query parameter, for links and websockets; prefer the {VISITOR_TOKEN_HEADER} header.",
    ),
]


def visitor_token(request) -> str:
    return (request.headers.get(VISITOR_TOKEN_HEADER) or request.query_params.get(VISITOR_TOKEN_QUERY) or "").strip()


class IsAuthenticatedOrVisitor(BasePermission):
    """Signed in, or (for the view's `visitor_methods`) an anonymous caller presenting a visitor
    token; whether the token fits the job is the selector's business (404 otherwise). Anonymous
    without a token stays a 401."""

    def has_permission(self, request, view):
        if request.user and request.user.is_authenticated:
            return True
        return request.method in getattr(view, "visitor_methods", ()) and bool(visitor_token(request))


def _job(request, job_id):
    return selectors.job_get_for_user(user=request.user, job_id=job_id)


def job_for_caller(request, job_id):
    """The job of a signed-in owner, or of the visitor whose token the request carries."""
    return selectors.job_get_for_caller(user=request.user, job_id=job_id, visitor_token=visitor_token(request))


def _status_param(value: str | None) -> str | None:
    if not value:
        return None
    name = normalize_status(value)
    if name is None:
        raise ValidationError({"status": [f"Unknown status {value!r}."]})
    return name


def _uuid_param(request, name: str):
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return serializers.UUIDField().to_internal_value(value)
    except serializers.ValidationError:
        raise ValidationError({name: ["Must be a valid UUID."]})


class JobListView(GenericAPIView):
    serializer_class = s.JobSerializer

    @extend_schema(
        operation_id="jobs_list",
        parameters=[OpenApiParameter("session_id"), OpenApiParameter("status"), OpenApiParameter("kind"),
                    OpenApiParameter("project_id", description="Only the jobs made from this project")],
        responses=s.JobSerializer(many=True),
    )
    def get(self, request):
        jobs = selectors.job_list(
            user=request.user, session_id=_uuid_param(request, "session_id"),
            status=_status_param(request.query_params.get("status")), kind=request.query_params.get("kind") or None,
        )
        project_id = _uuid_param(request, "project_id")
        if project_id:
            jobs = jobs.filter(params__project_id=str(project_id))  # the snapshot a project job carries
        page = self.paginate_queryset(jobs)
        return self.get_paginated_response(s.JobSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(request=s.JobCreateSerializer, responses={201: s.JobSerializer})
    def post(self, request):
        data = s.JobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        if v.get("project_id"):
            # Another app's object gives the kind and params (api/hooks.py): 404 if not the caller's.
            resolve = hooks.job_source("project_id")
            if resolve is None or not request.user.is_authenticated:
                raise ValidationError({"project_id": ["Jobs from projects are not available here."]})
            options = {name: v[name] for name in s.JobCreateSerializer.SOURCE_OPTIONS if name in v}
            v["kind"], v["params"] = resolve(user=request.user, value=v["project_id"], options=options)
        session = selectors.job_session_get_for_user(user=request.user, session_id=v["session_id"]) if v.get("session_id") else None
        job = services.job_create(
            owner=JobOwner.from_request(request), kind=v.get("kind"), params=v.get("params"), prompt=v.get("prompt", ""),
            output_format=v.get("output_format"), engine=v.get("engine"), session=session, start=v["start"],
        )
        return Response(s.JobSerializer(_job(request, job.pk), context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class JobDetailView(GenericAPIView):
    serializer_class = s.JobSerializer
    permission_classes = [IsAuthenticatedOrVisitor]
    visitor_methods = {"GET"}

    @extend_schema(parameters=VISITOR_PARAMETERS)
    def get(self, request, job_id):
        return Response(s.JobSerializer(job_for_caller(request, job_id), context={"request": request}).data)

    @extend_schema(request=s.JobStatusSerializer)
    def patch(self, request, job_id):
        return _set_status(request, job_id)


def _set_status(request, job_id):
    job = _job(request, job_id)
    data = s.JobStatusSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    if normalize_status(data.validated_data["status"]) is None:
        raise ValidationError({"status": [f"Unknown status {data.validated_data['status']!r}."]})
    services.job_status_set_by_client(
        job=job, to=data.validated_data["status"], error=data.validated_data.get("error", ""),
        error_type=data.validated_data.get("error_type", ""),
    )
    return Response(s.JobSerializer(_job(request, job_id)).data)


class JobStatusView(GenericAPIView):
    serializer_class = s.JobSerializer

    @extend_schema(request=s.JobStatusSerializer)
    def patch(self, request, job_id):
        return _set_status(request, job_id)


class JobStartView(GenericAPIView):
    serializer_class = s.JobSerializer

    @extend_schema(request=None)
    def post(self, request, job_id):
        services.job_start(job=_job(request, job_id))
        return Response(s.JobSerializer(_job(request, job_id)).data)


class JobCompleteView(GenericAPIView):
    serializer_class = s.JobSerializer

    @extend_schema(request=None, parameters=[OpenApiParameter("success", bool)])
    def post(self, request, job_id):
        job = _job(request, job_id)
        raw = (request.query_params.get("success") or "true").lower()
        if raw not in {"true", "false", "1", "0"}:
            raise ValidationError({"success": ["Must be true or false."]})
        services.job_complete_by_client(job=job, success=raw in {"true", "1"})
        return Response(s.JobSerializer(_job(request, job_id)).data)


class JobCancelView(GenericAPIView):
    serializer_class = s.JobSerializer
    permission_classes = [IsAuthenticatedOrVisitor]
    visitor_methods = {"POST"}

    @extend_schema(request=None, parameters=VISITOR_PARAMETERS)
    def post(self, request, job_id):
        services.job_cancel(job=job_for_caller(request, job_id))
        return Response(s.JobSerializer(job_for_caller(request, job_id)).data)


class JobValidTransitionsView(APIView):
    @extend_schema(responses=s.ValidTransitionsSerializer)
    def get(self, request, job_id):
        job = _job(request, job_id)
        return Response({"job_id": str(job.pk), "current_status": job.status,
                         "valid_transitions": services.job_transitions_for_client(job=job)})


class JobEventsView(APIView):
    permission_classes = [IsAuthenticatedOrVisitor]
    visitor_methods = {"GET"}

    @extend_schema(parameters=[OpenApiParameter("after", int), *VISITOR_PARAMETERS], responses=s.JobEventSerializer(many=True))
    def get(self, request, job_id):
        job = job_for_caller(request, job_id)
        after = query_int(request, "after", default=0, min_value=0)
        return Response(s.JobEventSerializer(selectors.job_events_after(job=job, after=after), many=True).data)


def _download_body(request, asset: Asset) -> dict:
    if not asset.file:
        raise ApplicationError("This asset is an external record; use its uri.", code="not_stored", status_code=409)
    url, expires_at = storage.download_url(asset=asset, request=request)
    return {"url": url, "download_url": url, "expires_at": expires_at.isoformat(), "asset_id": str(asset.pk),
            "asset_type": asset.asset_type}


class JobDownloadURLView(APIView):
    permission_classes = [IsAuthenticatedOrVisitor]
    visitor_methods = {"GET"}

    # `?format=` is DRF's renderer override, so the output is chosen with `asset_type`.
    @extend_schema(parameters=[OpenApiParameter("asset_type"), OpenApiParameter("asset_id"), *VISITOR_PARAMETERS],
                   responses=s.DownloadURLSerializer)
    def get(self, request, job_id):
        job = job_for_caller(request, job_id)
        wanted = request.query_params.get("asset_type") or request.query_params.get("output_format")
        asset_id = _uuid_param(request, "asset_id")
        assets = [a for a in job.asset_list if a.file]
        if asset_id:
            assets = [a for a in assets if a.pk == asset_id]
        elif wanted:
            assets = [a for a in assets if a.asset_type == wanted.lower()]
        else:
            primary = selectors.job_primary_asset(job=job)
            assets = [primary] if primary else []
        if not assets:
            raise ApplicationError("This job has no such output (yet).", code="no_output", status_code=404)
        return Response(_download_body(request, assets[0]))


class AssetListView(GenericAPIView):
    serializer_class = s.AssetSerializer
    permission_classes = [IsAuthenticatedOrVisitor]
    visitor_methods = {"GET"}

    @extend_schema(operation_id="assets_list", parameters=[OpenApiParameter("job_id"), *VISITOR_PARAMETERS],
                   responses=s.AssetSerializer(many=True))
    def get(self, request):
        job_id = _uuid_param(request, "job_id")
        if job_id is None and not request.user.is_authenticated:
            raise ValidationError({"job_id": ["Required with a visitor token: it names the visitor's job."]})
        assets = selectors.asset_list_for_caller(user=request.user, job_id=job_id, visitor_token=visitor_token(request))
        page = self.paginate_queryset(assets)
        return self.get_paginated_response(s.AssetSerializer(page, many=True).data)

    @extend_schema(request=s.AssetRecordSerializer, responses={201: s.AssetSerializer})
    def post(self, request):
        data = s.AssetRecordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        job_id = v.pop("job_id", None)
        job = _job(request, job_id) if job_id else None
        asset = services.asset_record(user=request.user, job=job, **v)
        return Response(s.AssetSerializer(asset).data, status=status.HTTP_201_CREATED)


def _avatar_from(*, user, asset: Asset) -> None:
    """`type=profile_photo` (seed 000): the stored (already re-encoded) image becomes the avatar,
    re-encoded once more by the accounts service as every avatar is."""
    from accounts.services import user_set_avatar

    with asset.file.open("rb") as handle:
        try:
            user_set_avatar(user=user, upload=handle)
        except DjangoValidationError as exc:
            raise ValidationError({"file": exc.message_dict.get("avatar", exc.messages)})


class AssetUploadView(APIView):
    """Upload a file. With `project_id` (yours; another's is a 404 and nothing is stored) it
    becomes an input of that project (api/hooks.py); `type=profile_photo` also sets your avatar."""

    parser_classes = [MultiPartParser, FormParser]
    throttle_scope = "uploads"

    @extend_schema(request={"multipart/form-data": s.AssetUploadSerializer}, responses={201: s.AssetSerializer})
    def post(self, request):
        data = s.AssetUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        job = _job(request, v["job_id"]) if v.get("job_id") else None
        attach = None
        if v.get("project_id"):
            resolve = hooks.upload_target("project_id")
            if resolve is None:
                raise ValidationError({"project_id": ["Uploads to projects are not available here."]})
            attach = resolve(user=request.user, value=v["project_id"])  # 404 before anything is stored
        # Stored (file, then its row) outside any transaction: storage may be a network call.
        asset = services.asset_upload(user=request.user, upload=v["file"], role=v["role"], job=job)
        try:
            if attach is not None:
                attach(asset)
            if v["role"] == Asset.Role.PROFILE_PHOTO:
                if asset.asset_type not in (Asset.Type.PNG, Asset.Type.JPG, Asset.Type.WEBP):
                    raise ValidationError({"file": ["A profile photo must be an image (PNG, JPEG or WebP)."]})
                _avatar_from(user=request.user, asset=asset)
        except Exception:
            # A refused upload leaves nothing: its row (and any input record) and its file now.
            name = asset.file.name
            asset.delete()
            asset.file.storage.delete(name)
            raise
        return Response(s.AssetSerializer(asset).data, status=status.HTTP_201_CREATED)


class AssetDetailView(GenericAPIView):
    serializer_class = s.AssetSerializer

    def get(self, request, asset_id):
        return Response(s.AssetSerializer(selectors.asset_get_for_user(user=request.user, asset_id=asset_id)).data)

    def delete(self, request, asset_id):
        services.asset_delete(asset=selectors.asset_get_for_user(user=request.user, asset_id=asset_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssetDownloadURLView(APIView):
    permission_classes = [IsAuthenticatedOrVisitor]
    visitor_methods = {"GET"}

    @extend_schema(parameters=VISITOR_PARAMETERS, responses=s.DownloadURLSerializer)
    def get(self, request, asset_id):
        asset = selectors.asset_get_for_caller(user=request.user, asset_id=asset_id, visitor_token=visitor_token(request))
        return Response(_download_body(request, asset))


def _meta_data(request, validated: dict) -> dict:
    data = {k: v for k, v in validated.items() if k != "asset_id"}
    if data.get("component_of"):
        data["component_of"] = selectors.asset_get_for_user(user=request.user, asset_id=data["component_of"])
    if "is_composite_of" in data:
        ids = [str(i) for i in data["is_composite_of"]]
        if selectors.asset_list(user=request.user).filter(id__in=ids).count() != len(set(ids)):
            raise NotFound("An asset in is_composite_of does not exist.")
        data["is_composite_of"] = ids
    return data


class AssetMetaListView(GenericAPIView):
    serializer_class = s.AssetMetaSerializer

    @extend_schema(operation_id="asset_meta_list", parameters=[OpenApiParameter("asset_id")], responses=s.AssetMetaSerializer(many=True))
    def get(self, request):
        metas = selectors.asset_meta_list(user=request.user, asset_id=_uuid_param(request, "asset_id"))
        page = self.paginate_queryset(metas)
        return self.get_paginated_response(s.AssetMetaSerializer(page, many=True).data)

    @extend_schema(request=s.AssetMetaWriteSerializer, responses={201: s.AssetMetaSerializer})
    def post(self, request):
        data = s.AssetMetaWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        asset = selectors.asset_get_for_user(user=request.user, asset_id=data.validated_data["asset_id"])
        meta = services.asset_meta_create(asset=asset, data=_meta_data(request, data.validated_data))
        return Response(s.AssetMetaSerializer(meta).data, status=status.HTTP_201_CREATED)


class AssetMetaDetailView(GenericAPIView):
    serializer_class = s.AssetMetaSerializer

    def get(self, request, meta_id):
        return Response(s.AssetMetaSerializer(selectors.asset_meta_get_for_user(user=request.user, meta_id=meta_id)).data)

    @extend_schema(request=s.AssetMetaPatchSerializer)
    def patch(self, request, meta_id):
        meta = selectors.asset_meta_get_for_user(user=request.user, meta_id=meta_id)
        data = s.AssetMetaPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        meta = services.asset_meta_update(meta=meta, data=_meta_data(request, data.validated_data))
        return Response(s.AssetMetaSerializer(meta).data)

    def delete(self, request, meta_id):
        services.asset_meta_delete(meta=selectors.asset_meta_get_for_user(user=request.user, meta_id=meta_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _byte_range(header: str, *, size: int) -> tuple[int, int] | None:
    """The (first, last) bytes of a single `Range: bytes=…` (RFC 9110 §14.1.2), `(size, size)`
    for one that starts past the end, None for no range or one we answer in full (several
    ranges, another unit, a malformed value: a server may ignore those)."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()) or (last and not last.isdigit()):
        return None
    if not first:  # a suffix: the last N bytes
        return (max(size - int(last), 0), size - 1) if int(last) else None
    first_byte = int(first)
    if first_byte >= size:
        return (size, size)
    last_byte = min(int(last), size - 1) if last else size - 1
    return (first_byte, last_byte) if last_byte >= first_byte else None


def _range_response(handle, byte_range: tuple[int, int], *, size: int, content_type: str) -> StreamingHttpResponse:
    first, last = byte_range
    if first >= size:
        handle.close()
        refused = ApplicationError("The range starts past the end of the file.", code="range_not_satisfiable",
                                   status_code=416)
        refused.headers = {"Content-Range": f"bytes */{size}"}
        raise refused

    def chunks(remaining: int = last - first + 1, block: int = 1 << 16):
        with handle:
            handle.seek(first)
            while remaining > 0:
                data = handle.read(min(block, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data

    response = StreamingHttpResponse(chunks(), status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(last - first + 1)
    return response


class DownloadView(APIView):
    """A signed link: whoever holds it may download until it expires; tampered/expired → 403."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, token):
        asset_id = storage.download_token_asset_id(token)
        if asset_id is None:
            raise PermissionDenied("This download link is invalid or has expired.")
        asset = Asset.objects.filter(pk=asset_id).exclude(file="").first()
        if asset is None:
            raise NotFound()
        name = f"{asset.job_id or asset.pk}.{asset.asset_type}"
        # Always an attachment with the one type of its asset type (never a stored or declared
        # one), not sniffed, and sandboxed should a browser render it anyway.
        content_type = CONTENT_TYPES.get(asset.asset_type, "application/octet-stream")
        handle = asset.file.open("rb")
        byte_range = _byte_range(request.headers.get("Range", ""), size=asset.file.size)
        if byte_range is None:
            response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
        else:
            # One range (a <video> seeking in a film): 206 with that slice, or 416 past the end.
            response = _range_response(handle, byte_range, size=asset.file.size, content_type=content_type)
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Accept-Ranges"] = "bytes"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response
