from mozukai_hub.api.routing import api_path

from . import views

urlpatterns = [
    *api_path("auth/start", views.AuthStartView.as_view(), name="auth-start"),
    *api_path("auth/signup", views.SignupView.as_view(), name="auth-signup"),
    *api_path("auth/register", views.RegisterView.as_view(), name="auth-register"),
    *api_path("auth/signin", views.LoginView.as_view(), name="auth-signin"),
    *api_path("auth/login", views.LoginView.as_view(), name="auth-login"),
    *api_path("auth/confirm", views.ConfirmView.as_view(), name="auth-confirm"),
    *api_path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    *api_path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    *api_path("auth/me", views.MeView.as_view(), name="auth-me"),
    *api_path("auth/google", views.GoogleView.as_view(), name="auth-google"),
    *api_path("auth/google/config", views.GoogleConfigView.as_view(), name="auth-google-config"),
    *api_path("users/me", views.UsersMeView.as_view(), name="users-me"),
    *api_path("users/me/password", views.PasswordChangeView.as_view(), name="users-me-password"),
    *api_path("users/<uuid:user_id>/avatar", views.AvatarView.as_view(), name="user-avatar"),
]
