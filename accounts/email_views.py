"""Email pages: confirm an address, choose notifications, unsubscribe with one click."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import NotificationsForm
from mailer import suppression
from mailer.unsubscribe import InvalidUnsubscribeLink, read_token


@require_http_methods(["GET", "POST"])
def confirm_email(request, token: str):
    """GET shows a button, POST confirms: a link scanner that fetches every link in a
    message must not confirm an address on its reader's behalf."""
    if request.method == "GET":
        return render(request, "registration/confirm_email.html", {"token": token})
    try:
        user = services.confirm_email(token=token)
    except services.InvalidConfirmation as error:
        return render(request, "registration/confirm_email.html", {"error": str(error)}, status=400)
    return render(request, "registration/confirm_email_done.html", {"confirmed_user": user})


@login_required
@require_http_methods(["GET", "POST"])
def email_settings(request):
    preferences = services.preferences_for(request.user)
    form = NotificationsForm(
        request.POST or None, initial={"notifications": preferences.notifications}
    )
    if request.method == "POST" and "send_confirmation" in request.POST:
        if not preferences.is_verified():
            services.send_confirmation(user=request.user)
            messages.success(request, f"A confirmation link is on its way to {request.user.email}.")
        return redirect("email_settings")
    if request.method == "POST" and form.is_valid():
        services.set_notifications(
            user=request.user, notifications=form.cleaned_data["notifications"]
        )
        messages.success(request, "Your email settings are saved.")
        return redirect("email_settings")
    suppressed = suppression.entry_for(request.user.email)
    return render(
        request,
        "registration/email_settings.html",
        {"form": form, "verified": preferences.is_verified(), "suppressed": suppressed},
        status=400 if form.errors else 200,
    )


# Mail clients post RFC 8058's one-click unsubscribe with no cookies and no CSRF token;
# the signed token in the address is what authorises it.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET shows a confirm button (link scanners only GET); POST unsubscribes, from that
    button or from a mail client's one-click POST (body `List-Unsubscribe=One-Click`)."""
    try:
        user_id, address = read_token(token)
    except InvalidUnsubscribeLink as error:
        return render(request, "registration/unsubscribe.html", {"error": str(error)}, status=400)
    user = get_user_model().objects.filter(pk=user_id).first()
    if request.method == "GET":
        return render(request, "registration/unsubscribe.html", {"address": address})
    if user is None:
        # The account is gone; the address still asked for no more mail.
        suppression.suppress(address, reason=suppression.Reason.UNSUBSCRIBED, detail="one-click")
    else:
        services.unsubscribe(user=user, address=address)
    return render(request, "registration/unsubscribe.html", {"address": address, "done": True})
