from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from .tokens import access_token_is_revoked


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's bearer authentication plus the logout denylist.

    simplejwt already refuses unknown and inactive users and tokens whose password hash no
    longer matches (CHECK_REVOKE_TOKEN).
    """

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        if access_token_is_revoked(token[jwt_settings.JTI_CLAIM]):
            raise AuthenticationFailed("This token has been revoked.", code="token_revoked")
        return token
