"""Staff views of billing: the ledger is read-only; credits change only through an
adjustment (with a reason), payments through a refund, events through a retry."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse

from mozukai_hub.admin import BoundedDateHierarchy
from mozukai_hub.api.errors import ApplicationError

from . import services
from .models import CreditAccount, CreditEntry, IdempotentRequest, Payment, StripeEvent, StripeEventStatus


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AdjustCreditsForm(forms.Form):
    amount = forms.IntegerField(help_text="Credits to add (negative to take away).")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}), help_text="Shown in the ledger.")


class CreditEntryInline(admin.TabularInline):
    model = CreditEntry
    fields = ["created_at", "kind", "amount", "reference", "reason", "created_by"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "user", "client_ip", "balance", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "user__username", "client_ip"]
    list_filter = [("user", admin.EmptyFieldListFilter)]
    readonly_fields = ["user", "client_ip", "balance", "created_at", "updated_at"]
    inlines = [CreditEntryInline]
    actions = ["adjust_credits"]

    def has_adjust_credits_permission(self, request) -> bool:
        return request.user.has_perm("billing.adjust_credits")

    @admin.action(description="Adjust credits (asks for an amount and a reason)", permissions=["adjust_credits"])
    def adjust_credits(self, request, queryset):
        form = AdjustCreditsForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for account in queryset:
                try:
                    services.credits_adjust(account=account, amount=form.cleaned_data["amount"],
                                            reason=form.cleaned_data["reason"], staff_user=request.user)
                    done += 1
                except (ValidationError, PermissionDenied) as exc:
                    self.message_user(request, f"{account}: {'; '.join(exc.messages)}", messages.ERROR)
            if done:
                self.message_user(request, f"Adjusted {done} account(s) by {form.cleaned_data['amount']:+d}.", messages.SUCCESS)
            return None
        return TemplateResponse(request, "billing/admin_adjust.html", {
            **self.admin_site.each_context(request), "title": "Adjust credits", "form": form, "accounts": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME, "opts": self.model._meta,
        })


@admin.register(CreditEntry)
class CreditEntryAdmin(BoundedDateHierarchy, ReadOnlyAdmin):
    list_display = ["created_at", "account", "kind", "amount", "reference", "reason", "created_by"]
    list_select_related = ["account__user", "created_by"]
    list_filter = ["kind", "created_at"]
    search_fields = ["reference", "idempotency_key", "reason", "account__user__email", "account__client_ip"]
    date_hierarchy = "created_at"


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "purpose", "reference", "user", "status", "amount_minor", "currency", "credits", "dev_mode"]
    list_select_related = ["user"]
    list_filter = ["status", "purpose", "kind", "dev_mode"]
    search_fields = ["id", "reference", "stripe_id", "payment_intent_id", "user__email"]
    actions = ["refund"]

    def has_refund_payment_permission(self, request) -> bool:
        return request.user.has_perm("billing.refund_payment")

    @admin.action(description="Refund selected payments", permissions=["refund_payment"])
    def refund(self, request, queryset):
        for payment in queryset:
            try:
                services.payment_refund(payment=payment, reason=f"Refunded by {request.user.email} in the admin")
                self.message_user(request, f"Refunded {payment}.", messages.SUCCESS)
            except ApplicationError as exc:
                self.message_user(request, f"{payment}: {exc.message}", messages.ERROR)


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "event_id", "status", "attempts", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["event_id", "type"]
    actions = ["retry"]

    @admin.action(description="Retry selected events (failed or not yet processed)")
    def retry(self, request, queryset):
        for event in queryset.exclude(status=StripeEventStatus.PROCESSED):
            try:
                services.stripe_event_process(event_id=event.event_id)
                self.message_user(request, f"Processed {event.event_id}.", messages.SUCCESS)
            except ApplicationError as exc:
                self.message_user(request, f"{event.event_id}: {exc.message}", messages.ERROR)


@admin.register(IdempotentRequest)
class IdempotentRequestAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "owner", "key", "method", "path", "status_code"]
    search_fields = ["owner", "key"]
