"""The operators' admin site: its login is limited and audited exactly like the API's.

Django's admin login on its own answers every wrong password with a 200 form, forever, and leaves
no trace. Here it shares the API login's buckets (per IP, and failures per identifier as typed:
accounts.sessions.count_login_attempt), so guesses spread over both doors add up, and it records
`login.succeeded` / `login.failed`.

An operator with a second factor (accounts.mfa) gives its code in the same form: a right password
without it is refused like a wrong one, and the code counts against the same per-account limit as
the API's second-factor step.
"""

from __future__ import annotations

import math

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpResponse

from audit.services import Action, record_event
from infra import ratelimit
from infra.errors import BadRequest, Conflict

from . import mfa, sessions

SECOND_FACTOR_MISSING = "This account uses two-step verification: enter the code from your authenticator app."
SECOND_FACTOR_WRONG = "The two-step verification code is wrong, expired or already used."


class AdminLoginForm(AdminAuthenticationForm):
    """Django's admin login form, plus the second factor of an account that has one. Checked in
    `confirm_login_allowed`, the form's public hook, after the password was found right."""

    second_factor_code = forms.CharField(
        label="Two-step code",
        required=False,
        max_length=32,
        strip=True,
        help_text="Only if your account uses two-step verification: a code from the app, or a recovery code.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not mfa.has_second_factor(user):
            return
        code = self.cleaned_data.get("second_factor_code") or ""
        if not code:
            raise forms.ValidationError(SECOND_FACTOR_MISSING, code="second_factor_invalid")
        try:
            mfa.checked_code(request=self.request, user=user, code=code, purpose="admin")
        except (BadRequest, Conflict) as exc:
            raise forms.ValidationError(SECOND_FACTOR_WRONG, code="second_factor_invalid") from exc
        except (ratelimit.RateLimited, ratelimit.CacheUnavailable) as exc:
            raise forms.ValidationError("Too many attempts; try again later.", code="rate_limited") from exc


class AdminSite(admin.AdminSite):
    login_form = AdminLoginForm
    login_template = "accounts/admin_login.html"
    site_header = "GhostFlow administration"
    site_title = "GhostFlow admin"
    # There is no public site yet (the dashboard comes later): no "View site" link to a 404.
    site_url = None

    def login(self, request, extra_context=None):
        if request.method != "POST":
            return super().login(request, extra_context)
        identifier = request.POST.get("username", "")[:254]
        try:
            ratelimit.check(request, "login")
            attempt = sessions.count_login_attempt(request, identifier)
        except (ratelimit.RateLimited, ratelimit.CacheUnavailable) as exc:
            # 429 over the limit; 503 when the limit cannot be counted (the login fails closed).
            message = "Too many login attempts" if exc.status_code == 429 else "Login is temporarily unavailable"
            response = HttpResponse(
                f"{message}; try again later.\n", status=exc.status_code, content_type="text/plain; charset=utf-8"
            )
            response["Retry-After"] = str(math.ceil(exc.wait))
            return response
        response = super().login(request, extra_context)
        if request.user.is_authenticated and request.user.is_staff and response.status_code == 302:
            attempt.succeeded()
            record_event(
                action=Action.LOGIN_SUCCEEDED,
                actor_id=request.user.pk,
                status_code=response.status_code,
                data={"method": "admin"},
            )
        else:
            # A wrong password, an unknown name, and a correct password of a non-staff account all
            # count (the attempt stays counted): the form answers them alike, and so does the limit.
            record_event(action=Action.LOGIN_FAILED, status_code=response.status_code, data={"method": "admin"})
        return response
