from .models import Membership


def memberships_of(user):
    """The caller's teams with the caller's role: the dashboard's team switcher."""
    return Membership.objects.of_user(user).select_related("team", "user")


def members_of(team):
    return Membership.objects.for_team(team).select_related("user")


def member(team, user_id):
    return Membership.objects.for_team(team).filter(user_id=user_id).select_related("user").first()
