"""Deleting an account (issue 10, item 2): never a 500, the books kept without the person.

A customer with orders (pending, paid, shipped), payments, a credit balance with a job holding
credits, uploads and job outputs (real files), a design session and tokens deletes the account
through the API; everything is checked in the database and in storage afterwards.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts.models import User
from billing.models import CreditAccount, CreditEntry, EntryKind, Payment, PaymentStatus
from billing.services import credits_grant
from catalog.models import CancelReason, Order, OrderStatus
from catalog.services.orders import order_transition
from catalog.tests.factories import ProductFactory
from chat.models import Session
from mozukai_hub.testing.fixtures import PASSWORD, bearer_client, make_user
from mozukai_hub.testing.images import png_bytes
from mozukai_hub.testing.payments import dev_pay_order
from pipeline.models import Asset, Job
from pipeline.services import asset_output_store

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def dev_payments(settings, monkeypatch):
    settings.STRIPE_SECRET_KEY = ""
    settings.BILLING_DEV_PAYMENTS = True
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)  # django-q2's documented sync mode


def place(client, product, quantity, **shipping) -> str:
    body = {"items": [{"product_id": product.pk, "quantity": quantity}], **shipping}
    response = client.post("/api/v1/orders", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_deleting_a_customer_with_orders_jobs_uploads_chats_and_credits(
    dev_payments, django_capture_on_commit_callbacks, tmp_path, settings,
):
    settings.DEFAULT_FREE_CREDITS = 0  # the job's hold then draws on the account's own credits
    user = make_user(full_name="Ada Moss")
    login = APIClient().post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json").json()
    client = bearer_client(user)
    credits_grant(user=user, amount=10, reason="welcome", idempotency_key="test-deletion-grant")

    # The shop: one order waiting for payment, one paid, one paid and shipped.
    tree = ProductFactory(price=Decimal("30.00"), stock_quantity=10)
    shipping = {"shipping_name": "Ada Moss", "shipping_address": "1 Moss Lane, Kyoto"}
    pending_id = place(client, tree, 2, **shipping)
    paid_id = place(client, tree, 1, **shipping)
    paid_payment = dev_pay_order(client, paid_id)
    shipped_id = place(client, tree, 3, **shipping)
    shipped_payment = dev_pay_order(client, shipped_id)
    order_transition(order_id=shipped_id, to_status=OrderStatus.SHIPPED)
    tree.refresh_from_db()
    assert (tree.stock_quantity, tree.stock_reserved) == (4, 3)  # 3 shipped, 3 held by the other two

    # The studio side: an upload, a job holding a credit, and an output file of that job.
    upload = client.post("/api/v1/assets/upload", {"file": SimpleUploadedFile("me.png", png_bytes())}, format="multipart")
    assert upload.status_code == 201, upload.json()
    session = client.post("/api/v1/sessions", {"name": "Pots"}, format="json")
    assert session.status_code == 201, session.json()
    job = client.post("/api/v1/jobs", {"session_id": session.json()["id"], "prompt": "a bonsai pot 120 mm wide",
                                       "output_format": "glb"}, format="json")
    assert job.status_code == 201, job.json()
    job = Job.objects.get(pk=job.json()["id"])
    assert job.credits_state == Job.CreditsState.HELD
    mesh = tmp_path / "out.stl"
    mesh.write_bytes(b"solid pot\nendsolid pot\n")
    output = asset_output_store(job=job, path=mesh, asset_type="stl")
    files = list(Asset.objects.filter(owner=user).values_list("file", flat=True))
    assert len(files) == 2 and all(default_storage.exists(name) for name in files)
    account = CreditAccount.objects.get(user=user)
    assert account.balance == 9  # one credit held by the job
    entries_before = CreditEntry.objects.filter(account=account).count()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete("/api/v1/users/me")
    assert response.status_code == 204, response.content

    assert not User.objects.filter(pk=user.pk).exists()
    # Orders stay, detached and anonymised; what had not shipped is cancelled and its stock back.
    orders = {str(order.pk): order for order in Order.objects.all()}
    assert set(orders) == {pending_id, paid_id, shipped_id}
    for order in orders.values():
        assert order.user_id is None and order.user_deleted_at is not None
        assert order.shipping_name == "" and order.shipping_address == ""
        assert order.items.count() == 1 and order.total_amount > 0  # the books still add up
    assert orders[pending_id].status == orders[paid_id].status == OrderStatus.CANCELLED
    assert orders[pending_id].cancel_reason == orders[paid_id].cancel_reason == CancelReason.ACCOUNT_DELETED
    assert orders[shipped_id].status == OrderStatus.SHIPPED
    tree.refresh_from_db()
    assert (tree.stock_quantity, tree.stock_reserved) == (7, 0)
    # Payments stay without the person; the paid, unshipped order was refunded after commit.
    payments = {str(payment.pk): payment for payment in Payment.objects.all()}
    assert set(payments) == {paid_payment, shipped_payment}
    assert all(payment.user_id is None for payment in payments.values())
    assert payments[paid_payment].status == PaymentStatus.REFUNDED
    assert payments[shipped_payment].status == PaymentStatus.SUCCEEDED
    # The credit account is closed with its ledger; the job's hold went back before closing.
    account.refresh_from_db()
    assert account.is_closed and account.balance == 10
    assert CreditEntry.objects.filter(account=account).count() == entries_before + 1
    assert CreditEntry.objects.filter(account=account, kind=EntryKind.RELEASE).count() == 1
    # Uploads, outputs, jobs and design sessions are gone, files included.
    assert not Asset.objects.filter(pk__in=[upload.json()["id"], output.pk]).exists()
    assert not any(default_storage.exists(name) for name in files)
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not Session.objects.filter(pk=session.json()["id"]).exists()
    # Every token is dead: the access token, and the refresh token (blacklisted, too).
    assert client.get("/api/v1/users/me").status_code == 401
    refresh = APIClient().post("/api/v1/auth/refresh", {"refresh_token": login["refresh_token"]}, format="json")
    assert refresh.status_code == 401
    assert BlacklistedToken.objects.filter(token__token=login["refresh_token"]).exists()
    # The units that came back can be sold again.
    other = bearer_client(make_user())
    assert other.post("/api/v1/orders", {"items": [{"product_id": tree.pk, "quantity": 7}]}, format="json").status_code == 201


def test_another_customers_orders_are_untouched(dev_payments):
    user, other = make_user(), make_user()
    tree = ProductFactory(stock_quantity=5)
    other_order = place(bearer_client(other), tree, 1, shipping_name="Bo", shipping_address="Pine Road")
    place(bearer_client(user), tree, 1)
    assert bearer_client(user).delete("/api/v1/users/me").status_code == 204
    order = Order.objects.get(pk=other_order)
    assert order.user_id == other.pk and order.shipping_name == "Bo" and order.status == OrderStatus.PENDING


def test_cookie_signed_in_deletion_needs_csrf_and_ends_the_session():
    user = make_user()
    client = APIClient(enforce_csrf_checks=True)
    assert client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json").status_code == 200
    refused = client.delete("/api/v1/users/me")
    assert refused.status_code == 403 and User.objects.filter(pk=user.pk).exists()
    response = client.delete("/api/v1/users/me", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()
    assert client.get("/api/v1/auth/me").status_code == 401


def test_each_app_registers_its_deletion_step_jobs_before_the_ledger_closes():
    """accounts imports none of the apps above it: they register their steps. Unfinished jobs
    are cancelled (holds released) before billing closes the credit account."""
    from accounts.deletion import user_deletion_steps

    names = [step.name for step in user_deletion_steps()]
    assert names == ["pipeline.jobs", "catalog.orders", "billing.credit_account", "pipeline.assets"]
    accounts_dir = Path(__file__).resolve().parents[1]
    accounts_sources = " ".join(path.read_text() for path in accounts_dir.glob("*.py"))
    assert "from catalog" not in accounts_sources and "from pipeline" not in accounts_sources
