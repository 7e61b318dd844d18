from access import scopes

from .models import APIKey


def keys_visible_to(access):
    """The caller's keys in the access's team; with `admin`, every key of the team."""
    queryset = APIKey.objects.for_team(access.team).select_related("user", "team")
    if not access.has_scope(scopes.ADMIN):
        queryset = queryset.filter(user=access.user)
    return queryset
