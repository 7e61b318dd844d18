from apikeys import scopes

from .models import APIKey


def keys_visible_to(request):
    """The caller's keys in the current team; with `admin`, every key of the team."""
    queryset = APIKey.objects.for_team(request.team).select_related("user")
    if scopes.ADMIN not in request.scopes:
        queryset = queryset.filter(user=request.user)
    return queryset
