"""Every /api/v1/ path, exactly as the seeds write them: no trailing slash (one is tolerated,
and left out of the schema)."""

from django.urls import path

from accounts import views as accounts
from teams import views as teams


def route(pattern: str, view, name: str):
    handler = view.as_view()
    return [path(pattern, handler, name=name), path(pattern + "/", handler)]


urlpatterns = [
    *route("auth/login", accounts.LoginView, "login"),
    *route("auth/refresh", accounts.RefreshView, "refresh"),
    *route("auth/logout", accounts.LogoutView, "logout"),
    *route("auth/me", accounts.MeView, "me"),
    *route("teams", teams.TeamListView, "teams"),
    *route("team", teams.CurrentTeamView, "team"),
    *route("team/members", teams.MemberListView, "team-members"),
    *route("team/members/<uuid:user_id>", teams.MemberDetailView, "team-member"),
]
