"""Account routes: sign up, and Django's log in, log out and password reset."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import email_views, views
from accounts.forms import OutboxPasswordResetForm

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("email/", email_views.email_settings, name="email_settings"),
    path("confirm/<str:token>/", email_views.confirm_email, name="confirm_email"),
    path("unsubscribe/<str:token>/", email_views.unsubscribe, name="unsubscribe"),
    path(
        "password_reset/",
        auth_views.PasswordResetView.as_view(form_class=OutboxPasswordResetForm),
        name="password_reset",
    ),
    path("", include("django.contrib.auth.urls")),
]
