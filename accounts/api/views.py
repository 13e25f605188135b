"""Auth and profile API: every seed's names for the same flows (see README's endpoint map)."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth import login as session_login
from django.contrib.auth import logout as session_logout
from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import AccessToken

from mozukai_hub.api.errors import ApplicationError
from mozukai_hub.api.parsers import JSONParser
from mozukai_hub.api.throttling import ClientIPScopedRateThrottle, UserRateThrottle

from .. import services, tokens
from ..google import google_enabled, google_id_token_verify, google_user_for_claims
from ..models import User
from . import serializers as s

TOKENS_RESPONSE = inline_serializer(
    "TokenPairResponse",
    {
        "access_token": serializers.CharField(),
        "refresh_token": serializers.CharField(),
        "token_type": serializers.CharField(),
        "expires_in": serializers.IntegerField(),
        "refresh_expires_in": serializers.IntegerField(),
        "user_id": serializers.UUIDField(),
        "user": s.UserSerializer(),
    },
)


class CredentialsAPIView(APIView):
    """Endpoints that take credentials in the body rather than the Authorization header.

    JSON bodies only: a page on another site can auto-submit a urlencoded or multipart form to
    any URL (no CORS preflight), and sign-in sets the session cookie, so a form would sign the
    victim's browser in to the attacker's account (login CSRF). A cross-site `application/json`
    body needs a preflight, which CORS refuses to other origins; a form body is a 415."""

    permission_classes = [AllowAny]
    authentication_classes = []
    parser_classes = [JSONParser]

    def get_authenticate_header(self, request):
        # With no authenticator DRF would turn a refused credential into a 403; it is a 401.
        return 'Bearer realm="api"'


class AuthAPIView(CredentialsAPIView):
    """Credential-checking endpoints: 5/min per client IP (seed 004's limit)."""

    throttle_classes = [UserRateThrottle, ClientIPScopedRateThrottle]
    throttle_scope = "auth"


MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _login_response(request, user: User, *, remember_me: bool, status_code=status.HTTP_200_OK) -> Response:
    """Tokens in the body, and the HttpOnly session cookie seed 002's clients rely on (unsafe
    calls made with the cookie need the CSRF token, as every cookie-authenticated call does)."""
    pair = tokens.token_pair_issue(user=user, remember_me=remember_me)
    session_login(request._request, user, backend=getattr(user, "backend", None) or MODEL_BACKEND)
    user_data = s.UserSerializer(user, context={"request": request}).data
    return Response({**pair.as_response(), "user_id": str(user.pk), "user": user_data}, status=status_code)


class AuthStartView(AuthAPIView):
    @extend_schema(
        request=s.EmailSerializer,
        responses=inline_serializer("AuthStartResponse", {"exists": serializers.BooleanField(), "next": serializers.CharField()}),
        summary="Does an account exist for this e-mail, and how does it sign in?",
    )
    def post(self, request):
        data = s.EmailSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = User.objects.filter(email__iexact=data.validated_data["email"]).first()
        if user is None:
            return Response({"exists": False, "next": "create_account"})
        return Response({"exists": True, "next": "password" if user.has_usable_password() else "social_login"})


class SignupView(AuthAPIView):
    @extend_schema(
        request=s.SignupSerializer,
        responses={201: inline_serializer("SignupResponse", {"user_id": serializers.UUIDField(), "next": serializers.CharField()})},
        summary="Create an account (seed 000); a confirmation e-mail is sent.",
    )
    def post(self, request):
        data = s.SignupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = services.user_signup(
            email=v["email"], password=v["password"], username=v["username"],
            full_name=v["full_name"], dob=v["dob"], request=request,
        )
        return Response({"user_id": str(user.pk), "next": "confirm_email"}, status=status.HTTP_201_CREATED)


class RegisterView(AuthAPIView):
    @extend_schema(
        request=s.RegisterSerializer,
        responses={201: inline_serializer("RegisterResponse", {
            "message": serializers.CharField(), "user_id": serializers.UUIDField(), "email": serializers.EmailField(),
        })},
        summary="Create an account (seeds 001, 002, 003, 004): display_name, full_name, or seed 002's name and surname.",
    )
    def post(self, request):
        data = s.RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = services.user_signup(
            email=v["email"], password=v["password"], username=v.get("username"),
            full_name=v["full_name"], request=request,
        )
        return Response(
            {"message": "Registration successful", "user_id": str(user.pk), "email": user.email},
            status=status.HTTP_201_CREATED,
        )


class LoginView(AuthAPIView):
    @extend_schema(request=s.LoginSerializer, responses=TOKENS_RESPONSE, summary="Sign in with e-mail and password (login = signin).")
    def post(self, request):
        data = s.LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = authenticate(request, email=v["email"], password=v["password"])
        if user is None:
            raise ApplicationError("E-mail or password is not correct.", code="invalid_credentials", status_code=401)
        if settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory" and not services.email_is_verified(user):
            raise ApplicationError("Confirm your e-mail address before signing in.", code="email_not_confirmed", status_code=403)
        return _login_response(request, user, remember_me=v["remember_me"])


class ConfirmView(AuthAPIView):
    @extend_schema(request=s.ConfirmSerializer, responses=inline_serializer("ConfirmResponse", {"message": serializers.CharField()}))
    def post(self, request):
        data = s.ConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.email_confirm(key=data.validated_data["token"], request=request)
        return Response({"message": "Email confirmed"})


class RefreshView(CredentialsAPIView):
    @extend_schema(request=s.RefreshSerializer, responses=TOKENS_RESPONSE, summary="Rotate a refresh token (each one works once).")
    def post(self, request):
        data = s.RefreshSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = tokens.token_refresh(raw_refresh=data.validated_data["raw_refresh"])
        return Response(pair.as_response())


class LogoutView(APIView):
    """Revokes the bearer token (and the refresh token when given) and ends the session cookie.

    By cookie, logout is POST with the CSRF token (SessionAuthentication enforces it); the GET
    form (seed 001) is for bearer-token clients only: a GET carrying just the cookie could be
    sent by any page the browser visits."""

    @extend_schema(request=s.LogoutSerializer, responses={200: inline_serializer("LogoutResponse", {"message": serializers.CharField()})})
    def post(self, request):
        data = s.LogoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        raw_refresh = data.validated_data.get("refresh_token") or data.validated_data.get("refresh")
        access = request.auth if isinstance(request.auth, AccessToken) else None
        tokens.token_logout(user=request.user, access_token=access, raw_refresh=raw_refresh)
        session_logout(request._request)
        return Response({"message": "Logged out"})

    @extend_schema(
        responses={200: inline_serializer("LogoutGetResponse", {"message": serializers.CharField()})},
        summary="Seed 001's GET form, with a bearer token only (by cookie: POST with the CSRF token, else 405).",
    )
    def get(self, request):
        access = request.auth if isinstance(request.auth, AccessToken) else None
        if access is None:
            raise MethodNotAllowed("GET", detail="Log out with POST and the CSRF token when signed in by the session cookie.")
        tokens.token_logout(user=request.user, access_token=access, raw_refresh=None)
        session_logout(request._request)
        return Response({"message": "Logged out"})


class MeView(APIView):
    @extend_schema(responses=s.UserSerializer)
    def get(self, request):
        return Response(s.UserSerializer(request.user, context={"request": request}).data)


class GoogleView(AuthAPIView):
    @extend_schema(request=s.GoogleSerializer, responses=TOKENS_RESPONSE, summary="Sign in or up with a Google ID token.")
    def post(self, request):
        data = s.GoogleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        claims = google_id_token_verify(data.validated_data["id_token"])
        user, created = google_user_for_claims(claims)
        if not user.is_active:
            raise ApplicationError("This account is inactive.", code="user_inactive", status_code=401)
        return _login_response(
            request, user, remember_me=data.validated_data["remember_me"],
            status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class GoogleConfigView(CredentialsAPIView):
    @extend_schema(responses=inline_serializer("GoogleConfig", {"enabled": serializers.BooleanField(), "client_id": serializers.CharField(allow_null=True)}))
    def get(self, request):
        return Response({"enabled": google_enabled(), "client_id": settings.GOOGLE_CLIENT_ID or None})


class UsersMeView(APIView):
    """Profile of the signed-in user (seed 004). PUT replaces the editable fields, PATCH some."""

    @extend_schema(responses=s.UserSerializer)
    def get(self, request):
        return Response(s.UserSerializer(request.user, context={"request": request}).data)

    def _update(self, request, *, partial: bool):
        data = s.ProfileUpdateSerializer(data=request.data, partial=partial, context={"user": request.user})
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        avatar = changes.pop("avatar", None)
        user = services.user_update(user=request.user, data=changes)
        if avatar is not None:
            user = services.user_set_avatar(user=user, upload=avatar)
        return Response(s.UserSerializer(user, context={"request": request}).data)

    @extend_schema(request=s.ProfileUpdateSerializer, responses=s.UserSerializer)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=s.ProfileUpdateSerializer, responses=s.UserSerializer)
    def patch(self, request):
        return self._update(request, partial=True)

    @extend_schema(responses={204: OpenApiResponse(
        description="Account deleted: uploads, jobs and chats with it; orders and payments kept for bookkeeping "
                    "without the person (unshipped orders cancelled, paid ones refunded); credit account closed; "
                    "every token and the session cookie stop working.")})
    def delete(self, request):
        services.user_delete(user=request.user)
        request._request.session.flush()  # the session cookie of a cookie-authenticated call
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    @extend_schema(request=s.PasswordChangeSerializer, responses=TOKENS_RESPONSE, summary="Change the password; every earlier token stops working.")
    def post(self, request):
        data = s.PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = services.user_change_password(user=request.user, current_password=v["current_password"], new_password=v["new_password"])
        return _login_response(request, user, remember_me=v["remember_me"])


class AvatarView(APIView):
    """Profile photos are public (seed 000: public read, owner write)."""

    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "image/png"): OpenApiResponse(description="The avatar image.")})
    def get(self, request, user_id):
        user = User.objects.filter(pk=user_id, is_active=True).exclude(avatar="").first()
        if user is None:
            raise Http404
        return FileResponse(user.avatar.open("rb"), content_type="image/png")
