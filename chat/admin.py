from django.contrib import admin

from .models import Chat, ChatEvent, ChatRun, Message, Session


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "status", "created_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("name", "owner__email")
    list_select_related = ("owner",)
    readonly_fields = ("id", "created_at", "updated_at")


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("seq", "role", "status", "content", "tokens")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("seq",)


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ("__str__", "session", "owner_email", "last_seq", "created_at", "updated_at")
    search_fields = ("title", "session__name", "session__owner__email", "id")
    list_select_related = ("session__owner",)
    readonly_fields = ("id", "last_seq", "created_at", "updated_at")
    raw_id_fields = ("session",)
    inlines = [MessageInline]

    @admin.display(description="Owner", ordering="session__owner__email")
    def owner_email(self, chat):
        return chat.session.owner.email


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("__str__", "chat", "seq", "role", "status", "tokens", "created_at")
    list_filter = ("role", "status")
    search_fields = ("content", "chat__title", "chat__session__owner__email", "id")
    list_select_related = ("chat",)
    readonly_fields = ("id", "seq", "created_at", "updated_at")
    raw_id_fields = ("chat", "job")


@admin.register(ChatRun)
class ChatRunAdmin(admin.ModelAdmin):
    list_display = ("id", "chat", "action", "backend", "status", "error_type", "created_at", "finished_at")
    list_filter = ("action", "backend", "status")
    search_fields = ("id", "remote_id", "chat__title", "chat__session__owner__email", "error")
    list_select_related = ("chat",)
    readonly_fields = ("id", "client_ip", "created_at", "started_at", "finished_at")
    raw_id_fields = ("chat", "prompt_message", "message", "job")
    actions = ["stop_runs"]

    @admin.action(description="Stop the selected runs")
    def stop_runs(self, request, queryset):
        from .runs import chat_run_cancel

        stopped = [chat_run_cancel(run=run) for run in queryset.exclude(status__in=ChatRun.TERMINAL)]
        self.message_user(request, f"Stopped {len(stopped)} run(s).")


@admin.register(ChatEvent)
class ChatEventAdmin(admin.ModelAdmin):
    list_display = ("chat", "seq", "type", "created_at")
    list_filter = ("type",)
    search_fields = ("chat__id", "chat__title", "type")
    list_select_related = ("chat",)
    raw_id_fields = ("chat",)
