"""Test-only URLs: the real ones plus views that fail on purpose."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from access.views import TeamScopedMixin
from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from tracking.models import Network


class Boom(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internals")


class TeamBoom(TeamScopedMixin, APIView):
    """Writes, then fails: the write must be rolled back, the failure audited."""

    resource = "networks"

    def get(self, request):
        raise RuntimeError("boom")

    def post(self, request):
        Network.objects.create(team=request.access.team, name="half-written")
        raise RuntimeError("boom")

    def put(self, request):
        return Response({"ok": True})


def django_boom(request):
    raise RuntimeError("secret internals")


urlpatterns = [
    path("boom", Boom.as_view()),
    path("api/v1/team-boom", TeamBoom.as_view()),
    path("django-boom", django_boom),
    path("", include("config.urls")),
]
