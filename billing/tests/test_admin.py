"""Admin actions that move credits or money need their own permission, not just `is_staff`."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from billing import services
from billing.models import CreditAccount, CreditEntry, Payment, PaymentStatus
from mozukai_hub.testing.fixtures import make_user

pytestmark = pytest.mark.django_db


def staff_with(*codenames: str) -> Client:
    staff = make_user(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="billing", codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client


def adjust(client: Client, account: CreditAccount):
    return client.post("/admin/billing/creditaccount/", {
        "action": "adjust_credits", "_selected_action": [account.pk], "apply": "1", "amount": "50",
        "reason": "Goodwill"})


def test_staff_without_any_billing_permission_sees_nothing_and_adjusts_nothing(user):
    account = services.credit_account_for(user=user)
    client = staff_with()
    assert client.get("/admin/billing/creditaccount/").status_code == 403
    adjust(client, account)
    assert CreditAccount.objects.get(pk=account.pk).balance == 0
    assert not CreditEntry.objects.exists()


def test_adjusting_credits_needs_the_adjust_credits_permission(user):
    account = services.credit_account_for(user=user)
    viewer = staff_with("view_creditaccount")
    page = viewer.get("/admin/billing/creditaccount/")
    assert page.status_code == 200 and b"adjust_credits" not in page.content
    adjust(viewer, account)
    assert CreditAccount.objects.get(pk=account.pk).balance == 0
    assert not CreditEntry.objects.exists()

    adjuster = staff_with("view_creditaccount", "adjust_credits")
    assert b"adjust_credits" in adjuster.get("/admin/billing/creditaccount/").content
    adjust(adjuster, account)
    assert CreditAccount.objects.get(pk=account.pk).balance == 50
    assert list(CreditEntry.objects.values_list("kind", "amount")) == [("adjustment", 50)]


def test_the_adjust_service_refuses_staff_without_the_permission(user):
    from django.core.exceptions import PermissionDenied

    account = services.credit_account_for(user=user)
    with pytest.raises(PermissionDenied):
        services.credits_adjust(account=account, amount=5, reason="x", staff_user=make_user(is_staff=True))
    assert not CreditEntry.objects.exists()


def test_refunding_needs_the_refund_payment_permission(user, dev_payments):
    payment = services.payment_dev_complete(payment=services.credit_checkout_create(user=user, pack=5))
    assert payment.status == PaymentStatus.SUCCEEDED
    refund = {"action": "refund", "_selected_action": [payment.pk]}

    viewer = staff_with("view_payment")
    assert viewer.get("/admin/billing/payment/").status_code == 200
    viewer.post("/admin/billing/payment/", refund)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED
    assert CreditAccount.objects.get(user=user).balance == 5

    refunder = staff_with("view_payment", "refund_payment")
    refunder.post("/admin/billing/payment/", refund)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REFUNDED
    assert CreditAccount.objects.get(user=user).balance == 0
