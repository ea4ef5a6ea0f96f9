"""Sign-up page; everything else is Django's own auth views."""

from django.contrib.auth import login
from django.shortcuts import redirect, render

from accounts import services
from accounts.forms import SignUpForm


def signup(request):
    if request.user.is_authenticated:
        return redirect("media_pipeline:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.sign_up(form=form)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("media_pipeline:home")
    return render(request, "registration/signup.html", {"form": form})
