"""Permission classes shared by JWT logins and API keys: one path for every scope check."""

from rest_framework.permissions import BasePermission

from config.errors import Forbidden

from .models import APIKey


class HasScope(BasePermission):
    """The view's required scope must be among `request.scopes` (set by the team context).

    A view declares `resource` (safe methods need read:<resource>, others write:<resource>) or
    `scope` (a fixed scope such as `admin`), or overrides `get_required_scope` for per-object rules.
    None means "any member of the team".
    """

    def has_permission(self, request, view) -> bool:
        needed = view.get_required_scope(request)
        if needed is None or needed in request.scopes:
            return True
        raise Forbidden(f"This action needs the `{needed}` scope.", code="insufficient_scope", required_scope=needed)


class InteractiveLoginOnly(BasePermission):
    """Refuse API keys: a key can never mint, widen or renew keys, nor manage the account."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, APIKey):
            raise Forbidden(
                "This endpoint needs an interactive (JWT) login; API keys are not accepted here.",
                code="interactive_login_required",
            )
        return True
