"""Sign-up page and the log-in page, both rate-limited; Django's own auth views for the rest."""

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render

from accounts import services
from accounts.forms import SignUpForm
from core import ratelimit


def signup(request):
    if request.user.is_authenticated:
        return redirect("media_pipeline:home")
    if request.method == "POST":
        try:
            ratelimit.check_signup(request)
        except ratelimit.RateLimited as limited:
            return ratelimit.too_many_page(request, limited)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.sign_up(form=form)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("media_pipeline:home")
    return render(request, "registration/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Django's log-in page, with attempts counted per address and per user name."""

    def post(self, request, *args, **kwargs):
        try:
            ratelimit.check_login(request, request.POST.get("username", ""))
        except ratelimit.RateLimited as limited:
            return ratelimit.too_many_page(request, limited)
        return super().post(request, *args, **kwargs)
