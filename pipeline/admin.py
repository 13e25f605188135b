from django.contrib import admin, messages
from django.utils.html import format_html

from mozukai_hub.admin import BoundedDateHierarchy
from mozukai_hub.api.errors import ApplicationError

from . import services, storage
from .models import Asset, AssetMeta, Job, JobEvent, JobInput
from .owners import JobOwner
from .transitions import ENDED_EARLY


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    fields = ("seq", "type", "data", "created_at")
    readonly_fields = fields
    ordering = ("seq",)

    def has_add_permission(self, request, obj=None):
        return False


class JobInputInline(admin.TabularInline):
    model = JobInput
    extra = 0
    can_delete = False
    fields = ("role", "asset", "asset_ref")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class OutputInline(admin.TabularInline):
    model = Asset
    extra = 0
    can_delete = False
    fields = ("asset_type", "is_primary", "size", "content_type", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(BoundedDateHierarchy, admin.ModelAdmin):
    list_display = ("id", "owner", "visitor_ip", "kind", "status", "progress", "engine", "attempts", "credit_cost",
                    "credits_state", "created_at")
    list_filter = ("kind", "status", "engine", "error_type", "credits_state")
    search_fields = ("id", "owner__email", "visitor_ip", "prompt", "provider_job_id")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [JobInputInline, OutputInline, JobEventInline]
    actions = ["cancel_jobs", "retry_jobs", "attach_model_to_product"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Attach the model of a completed photogrammetry job to a product")
    def attach_model_to_product(self, request, queryset):
        """A page to choose the product, then the first completed photogrammetry job's GLB goes on it."""
        from django.apps import apps
        from django.template.response import TemplateResponse

        from .photogrammetry.products import product_model_attach

        products = apps.get_model("catalog", "Product").objects.order_by("name")
        if "apply" not in request.POST:
            return TemplateResponse(request, "pipeline/photogrammetry_attach.html", {
                **self.admin_site.each_context(request), "title": "Attach a model to a product", "jobs": queryset,
                "products": products, "opts": self.model._meta,
            })
        product = products.filter(pk=request.POST.get("product_id") or 0).first()
        if product is None:
            self.message_user(request, "Choose a product.", messages.ERROR)
            return None
        attached = None
        for job in queryset:
            if attached is not None or job.kind != Job.Kind.PHOTOGRAMMETRY or job.status != Job.Status.COMPLETED:
                self.message_user(request, f"{job.id}: not a completed photogrammetry job (or one was already attached); "
                                           "skipped.", messages.WARNING)
                continue
            try:
                product_model_attach(job=job, product_id=product.pk)
                attached = job
            except ApplicationError as exc:
                self.message_user(request, f"{job.id}: {exc.message}", messages.WARNING)
        if attached is not None:
            self.message_user(request, f"The model of job {attached.id} is now shown on {product.name}.")
        return None

    @admin.action(description="Cancel selected jobs (releases their credits)")
    def cancel_jobs(self, request, queryset):
        done = 0
        for job in queryset:
            try:
                services.job_cancel(job=job)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{job.id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Cancelled {done} job(s).")

    @admin.action(description="Retry selected failed/cancelled jobs of users as new jobs")
    def retry_jobs(self, request, queryset):
        done = 0
        # A visitor's job is not retried here: the new job's token could not reach the visitor.
        for job in queryset.filter(status__in=ENDED_EARLY, owner__isnull=False).select_related("owner", "session"):
            try:
                services.job_create(owner=JobOwner(user=job.owner, client_ip=None), kind=job.kind, params=job.params,
                                    engine=job.engine, session=job.session)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{job.id}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Created {done} new job(s).")


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "asset_type", "role", "is_primary", "size", "job", "created_at", "preview")
    list_filter = ("asset_type", "role", "is_primary")
    search_fields = ("id", "owner__email", "job__id", "uri", "checksum")
    list_select_related = ("owner", "job")
    readonly_fields = ("id", "owner", "job", "file", "size", "checksum", "content_type", "width", "height", "created_at", "preview")
    fields = ("id", "owner", "job", "asset_type", "role", "is_primary", "file", "uri", "size", "content_type", "checksum",
              "width", "height", "created_at", "preview")

    @admin.display(description="Preview")
    def preview(self, asset):
        if not asset.file:
            return asset.uri or "—"
        url, _ = storage.download_url(asset=asset)
        if asset.asset_type in {"png", "jpg", "webp"}:
            return format_html('<a href="{}"><img src="{}" style="max-height:64px;max-width:96px"></a>', url, url)
        return format_html('<a href="{}">download</a>', url)


@admin.register(AssetMeta)
class AssetMetaAdmin(admin.ModelAdmin):
    list_display = ("id", "part_name", "asset", "component_of", "created_at")
    search_fields = ("part_name", "asset__id")
    raw_id_fields = ("asset", "component_of")
