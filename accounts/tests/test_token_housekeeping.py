import datetime

import pytest
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import RevokedAccessToken
from accounts.tokens import revoked_tokens_purge

pytestmark = pytest.mark.django_db


def test_expired_revocations_are_purged_daily(user):
    now = timezone.now()
    RevokedAccessToken.objects.create(jti="old", user=user, expires_at=now - datetime.timedelta(minutes=1))
    RevokedAccessToken.objects.create(jti="live", user=user, expires_at=now + datetime.timedelta(minutes=10))
    assert revoked_tokens_purge() == 1
    assert list(RevokedAccessToken.objects.values_list("jti", flat=True)) == ["live"]
    schedule = Schedule.objects.get(func="accounts.tokens.revoked_tokens_purge")
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats == -1
