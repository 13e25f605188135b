import pytest
from django.test import Client

from billing import services
from billing.models import CreditAccount, CreditEntry, EntryKind, Payment, PaymentStatus, StripeEvent
from mozukai_hub.testing.fake_stripe import deliver, event
from mozukai_hub.testing.fixtures import PASSWORD, make_user

from .conftest import billing_counts

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_sees_three_free_credits_and_a_sign_up_link(settings):
    settings.DEFAULT_FREE_CREDITS = 3
    page = Client(REMOTE_ADDR="203.0.113.20").get("/credits/")
    assert page.status_code == 200
    assert b'data-testid="free-credits">3<' in page.content
    assert b"Sign in to buy credits" in page.content


def test_new_user_buys_a_pack_in_dev_payment_mode_and_sees_balance_and_history(dev_payments):
    client = Client()
    signup = client.post("/accounts/signup/", {"email": "moss@example.com", "username": "moss",
                                               "password1": PASSWORD, "password2": PASSWORD,
                                               "full_name": "Moss Garden", "dob": "1990-04-01"})
    assert signup.status_code == 302
    page = client.get("/credits/")
    assert b"Dev payment mode" in page.content and b'data-testid="balance">0<' in page.content
    to_checkout = client.post("/credits/buy/", {"pack": "10"})
    payment = Payment.objects.get()
    assert to_checkout.status_code == 302 and to_checkout["Location"] == f"/credits/dev-checkout/{payment.pk}/"
    checkout = client.get(to_checkout["Location"])
    assert b"DEV PAYMENT MODE" in checkout.content
    done = client.post(to_checkout["Location"])
    assert done.status_code == 302 and f"session_id={payment.stripe_id}" in done["Location"]
    success = client.get(done["Location"])
    assert b"Thank you" in success.content and b'data-testid="balance">10<' in success.content
    client.post(to_checkout["Location"])  # paying twice credits nothing more
    page = client.get("/credits/")
    assert b'data-testid="balance">10<' in page.content and b"Bought a pack of 10 credits" in page.content
    assert CreditEntry.objects.filter(kind=EntryKind.PURCHASE).count() == 1


def test_dev_checkout_is_404_when_dev_mode_is_off_or_for_another_user(user, other_user, dev_payments, settings):
    payment = services.credit_checkout_create(user=user, pack=5)
    client = Client()
    client.force_login(other_user)
    assert client.post(f"/credits/dev-checkout/{payment.pk}/").status_code == 404
    settings.BILLING_DEV_PAYMENTS = False
    client.force_login(user)
    assert client.post(f"/credits/dev-checkout/{payment.pk}/").status_code == 404
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and not CreditEntry.objects.exists()


def test_buy_needs_sign_in_and_a_real_pack(user, dev_payments):
    anonymous = Client().post("/credits/buy/", {"pack": "5"})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    client = Client()
    client.force_login(user)
    assert client.post("/credits/buy/", {"pack": "7"}).status_code == 302
    assert client.post("/credits/buy/", {"pack": "lots"}).status_code == 302
    assert not Payment.objects.exists()


def test_cancel_page(client):
    assert b"Nothing was charged" in client.get("/credits/cancel/").content


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def test_admin_lists_and_ledger_is_read_only(staff_client, user, dev_payments):
    services.credits_grant(user=user, amount=3, reason="hello", idempotency_key="admin")
    services.credit_checkout_create(user=user, pack=5)
    for url in ("/admin/billing/creditaccount/", "/admin/billing/creditentry/", "/admin/billing/payment/",
                "/admin/billing/stripeevent/", "/admin/billing/idempotentrequest/"):
        assert staff_client.get(url).status_code == 200, url
    entry = CreditEntry.objects.get()
    assert staff_client.get(f"/admin/billing/creditaccount/{entry.account_id}/change/").status_code == 200
    staff_client.post(f"/admin/billing/creditentry/{entry.pk}/delete/", {"post": "yes"})
    assert staff_client.get("/admin/billing/creditentry/add/").status_code == 403
    assert CreditEntry.objects.filter(pk=entry.pk).exists()


def test_admin_adjustment_asks_for_a_reason(staff_client, user):
    account = services.credit_account_for(user=user)
    url = "/admin/billing/creditaccount/"
    form = staff_client.post(url, {"action": "adjust_credits", "_selected_action": [account.pk]})
    assert form.status_code == 200 and b"Adjust credits" in form.content
    before = billing_counts()
    staff_client.post(url, {"action": "adjust_credits", "_selected_action": [account.pk], "apply": "1", "amount": "5", "reason": ""})
    assert billing_counts() == before
    staff_client.post(url, {"action": "adjust_credits", "_selected_action": [account.pk], "apply": "1", "amount": "5",
                            "reason": "Apology for a failed render"})
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.amount, entry.reason) == ("adjustment", 5, "Apology for a failed render")
    assert CreditAccount.objects.get(pk=account.pk).balance == 5


def test_admin_retries_a_failed_event_and_refunds_a_payment(staff_client, user, stripe_server):
    payment = services.credit_checkout_create(user=user, pack=5)
    session = stripe_server.pay_session(payment.stripe_id)
    completed = event("checkout.session.completed", session)
    # The event was stored, then failed (say the database went away mid-way).
    StripeEvent.objects.create(event_id=completed["id"], type=completed["type"], payload=completed, status="failed", attempts=1)
    staff_client.post("/admin/billing/stripeevent/", {"action": "retry", "_selected_action": [StripeEvent.objects.get().pk]})
    assert StripeEvent.objects.get().status == "processed"
    assert CreditAccount.objects.get(user=user).balance == 5
    staff_client.post("/admin/billing/payment/", {"action": "refund", "_selected_action": [payment.pk]})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert CreditAccount.objects.get(user=user).balance == 0
    assert deliver(completed).status_code == 200  # a late redelivery changes nothing
    assert CreditAccount.objects.get(user=user).balance == 0
