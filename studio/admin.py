from django.contrib import admin

from mozukai_hub.admin import BoundedDateHierarchy

from .models import Project, ProjectInput


class ProjectInputInline(admin.TabularInline):
    model = ProjectInput
    extra = 0
    fields = ("asset", "role", "asset_type", "created_at")
    readonly_fields = ("role", "asset_type", "created_at")
    raw_id_fields = ("asset",)

    @admin.display(description="role")
    def role(self, project_input):
        return project_input.asset.role

    @admin.display(description="type")
    def asset_type(self, project_input):
        return project_input.asset.asset_type


@admin.register(Project)
class ProjectAdmin(BoundedDateHierarchy, admin.ModelAdmin):
    list_display = ("title", "kind", "platform", "size", "owner", "updated_at")
    list_filter = ("kind", "platform", "vibe", "model_pref", "aspect_ratio", "resolution", "subtitles")
    search_fields = ("title", "headline", "owner__email")
    list_select_related = ("owner",)
    readonly_fields = ("id", "created_at", "updated_at")
    raw_id_fields = ("owner",)
    date_hierarchy = "updated_at"
    inlines = [ProjectInputInline]
    fieldsets = (
        (None, {"fields": ("id", "owner", "kind", "title", "vibe", "created_at", "updated_at")}),
        ("Thumbnail", {"fields": ("mode", "platform", "width", "height", "headline", "subtext", "model_pref")}),
        ("Film", {"fields": ("aspect_ratio", "resolution", "voice", "voice_speed", "voice_pitch", "subtitles", "scenes")}),
    )

    @admin.display(description="size", ordering="width")
    def size(self, project):
        return project.size


@admin.register(ProjectInput)
class ProjectInputAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "asset", "role", "created_at")
    list_filter = ("asset__role",)
    search_fields = ("project__title", "project__owner__email")
    list_select_related = ("project", "asset")
    raw_id_fields = ("project", "asset")
    readonly_fields = ("created_at",)

    @admin.display(description="role", ordering="asset__role")
    def role(self, project_input):
        return project_input.asset.role
