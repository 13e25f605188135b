from django.contrib import admin

from .models import Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "platform", "size", "owner", "updated_at")
    list_filter = ("kind", "platform", "vibe", "model_pref")
    search_fields = ("title", "headline", "owner__email")
    list_select_related = ("owner",)
    readonly_fields = ("id", "created_at", "updated_at")
    raw_id_fields = ("owner",)
    date_hierarchy = "updated_at"

    @admin.display(description="size", ordering="width")
    def size(self, project):
        return project.size
