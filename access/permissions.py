"""Permission classes shared by every credential: one path for every scope check."""

from django.conf import settings
from rest_framework.permissions import BasePermission

from infra.errors import Forbidden

from . import context


class HasScope(BasePermission):
    """The view's required scope must be among the request's effective scopes (`request.access`,
    bound to the team by the team step).

    A view declares `resource` (safe methods need read:<resource>, others write:<resource>),
    `scope` (a fixed scope such as `admin`, or ANY_MEMBER), or overrides `get_required_scope`.
    """

    def has_permission(self, request, view) -> bool:
        needed = view.get_required_scope(request)
        if needed is None or request.access.has_scope(needed):
            return True
        raise Forbidden(f"This action needs the `{needed}` scope.", code="insufficient_scope", required_scope=needed)


class PersonOnly(BasePermission):
    """Endpoints about the caller's own account: a login or a person's key, never an integration
    (a team's credential, nobody's account)."""

    def has_permission(self, request, view) -> bool:
        if request.access.user is not None and getattr(request.access.user, "pk", None) is None:
            raise Forbidden("An integration has no account; this endpoint describes one.", code="no_account")
        return True


class InteractiveLoginOnly(BasePermission):
    """Only a person's login: no key ever mints, widens or renews keys, manages the account, or
    changes who is in a team (a key's role ceiling is its owner's, not its holder's). And only a
    login that is still signed in: the access token of a session signed out (logout, revoked from
    the sessions list, ...) is refused here with 401 `token_revoked` for the rest of its lifetime
    (one query: access.context.check_signed_in)."""

    def has_permission(self, request, view) -> bool:
        if not request.access.is_interactive:
            raise Forbidden(
                "This endpoint needs an interactive (JWT) login; API keys and integrations are not accepted here.",
                code="interactive_login_required",
            )
        context.check_signed_in(request.access)
        return True


class RecentAuthentication(InteractiveLoginOnly):
    """Step-up ("sudo mode"): the acts that hand out power need a login (never a key or an
    integration) whose session proved who it is within settings.REAUTH_SECONDS, else 403
    `reauthentication_required` (access.context.check_recently_authenticated).

    Views do not list it: they declare the methods that need it,
    `requires_recent_authentication = frozenset({"POST"})`, and access.views.AccessMixin adds it
    last (after the scope check, so someone without the scope learns nothing more).
    tests/test_step_up.py walks every URL under /api/v1/ and asserts the exact set."""

    def has_permission(self, request, view) -> bool:
        if request.method not in view.requires_recent_authentication:
            return True
        super().has_permission(request, view)
        context.check_recently_authenticated(request.access, within_seconds=settings.REAUTH_SECONDS)
        return True
