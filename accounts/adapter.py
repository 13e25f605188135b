from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied

from mozukai_hub.client_ip import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request):
        # allauth's rate limits use the same trusted client address as everything else.
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip
