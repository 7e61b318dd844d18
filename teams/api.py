"""Building blocks of team-scoped views: the team context step, scope checks, tenant querysets."""

from rest_framework.permissions import IsAuthenticated

from apikeys import scopes
from apikeys.permissions import HasScope

from . import context


class TeamScopedMixin:
    """A view that works inside the team named by X-Team-Id.

    Authentication runs first (401 before anything else), then the team context (400/403), then
    permissions, and only then the handler; see teams/context.py.
    """

    team_scoped = True
    resource: str | None = None
    scope: str | None = None
    permission_classes = [IsAuthenticated, HasScope]

    def perform_authentication(self, request):
        super().perform_authentication(request)
        if request.user.is_authenticated:
            context.resolve(request)

    def get_required_scope(self, request) -> str | None:
        if self.scope is not None:
            return self.scope
        if self.resource is not None:
            return scopes.required_scope(resource=self.resource, method=request.method)
        return None


class TeamOwnedViewMixin(TeamScopedMixin):
    """Generic views over a TeamOwned model: the queryset is always the current team's rows, so
    another team's object is simply not found (404)."""

    model = None

    def get_queryset(self):
        return self.model.objects.for_team(self.request.team)
