"""The bases of every API view: the access step after authentication, the team step, scope checks
and tenant querysets."""

from rest_framework.permissions import IsAuthenticated

from . import context, scopes
from .permissions import HasScope, RecentAuthentication

# A team-scoped view must say what it needs: a scope, a `resource` (read:/write: by method), a
# per-request `get_required_scope`, or explicitly this: any member of the team.
ANY_MEMBER = "any-member"


class AccessMixin:
    """Every API view: right after DRF authentication, `request.access` is established (who, with
    which credential). `tests/test_access.py` walks every URL under /api/v1/ to enforce it."""

    team_scoped = False
    # The HTTP methods of this view that hand out power: they need a recent authentication of the
    # login's session (step-up, access.permissions.RecentAuthentication, added here last).
    requires_recent_authentication: frozenset[str] = frozenset()

    def perform_authentication(self, request):
        super().perform_authentication(request)
        context.establish(request)

    def get_permissions(self):
        permissions = super().get_permissions()
        if self.requires_recent_authentication:
            permissions.append(RecentAuthentication())
        return permissions


class TeamScopedMixin(AccessMixin):
    """A view that works inside the team named by X-Team-Id.

    Authentication runs first (401 before anything else), then the team step (400/403), then
    permissions, and only then the handler; see access/context.py.
    """

    team_scoped = True
    resource: str | None = None
    scope: str | None = None
    permission_classes = [IsAuthenticated, HasScope]

    def perform_authentication(self, request):
        super().perform_authentication(request)
        if request.access.is_authenticated:
            context.enter_team(request)

    def get_required_scope(self, request) -> str | None:
        """The scope this request needs, or None for any member of the team."""
        if self.scope == ANY_MEMBER:
            return None
        if self.scope is not None:
            return self.scope
        if self.resource is not None:
            return scopes.required_scope(resource=self.resource, method=request.method)
        raise NotImplementedError(f"{type(self).__name__} declares no scope (scope, resource or ANY_MEMBER).")


class TeamOwnedViewMixin(TeamScopedMixin):
    """Generic views over a tenant-owned model: the queryset is always the current team's rows
    (access.tenancy), so another team's object is simply not found (404)."""

    model = None

    def get_queryset(self):
        return self.model.objects.for_team(self.request.access.team)
