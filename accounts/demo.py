"""Demo accounts for `make run` (never in production)."""

from allauth.account.models import EmailAddress

from .models import User

DEMO_ACCOUNTS = [
    {"email": "staff@mozukai.local", "username": "staff", "full_name": "Shop Staff", "password": "mozukai-staff-demo", "is_staff": True, "is_superuser": True},
    {"email": "customer@mozukai.local", "username": "customer", "full_name": "Demo Customer", "password": "mozukai-customer-demo"},
]


def seed_accounts(stdout) -> None:
    for spec in DEMO_ACCOUNTS:
        spec = dict(spec)
        password = spec.pop("password")
        user = User.objects.filter(email=spec["email"]).first()
        if user is None:
            user = User.objects.create_user(spec.pop("email"), password, **spec)
        else:
            user.set_password(password)  # the printed credentials always work
            user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"primary": True, "verified": True})
        role = "staff (admin at /admin/)" if user.is_staff else "customer"
        stdout.write(f"  {role:28} {user.email} / {password}")
