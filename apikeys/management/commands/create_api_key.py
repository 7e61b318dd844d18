"""Create a gf_ key from the command line and print it once."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from rest_framework.exceptions import APIException

from apikeys import services
from infra.params import datetime_param, uuid_param
from teams.models import Membership


class Command(BaseCommand):
    help = "Create an API key for a member of a team. The raw key is printed once and never stored."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username or e-mail of the key's owner.")
        parser.add_argument("--team", required=True, help="Team UUID.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--permissions", nargs="+", required=True, help="e.g. read write:campaigns")
        parser.add_argument("--expires-at", default=None, help="ISO 8601 expiry with a timezone (optional).")

    def handle(self, *args, user, team, name, permissions, expires_at, **options):
        try:
            team_id = uuid_param(team, "--team")
            expiry = datetime_param(expires_at, "--expires-at") if expires_at else None
            membership = (
                Membership.objects.for_team(team_id)
                .select_related("team", "user")
                .filter(Q(user__username=user) | Q(user__email__iexact=user))
                .first()
            )
            if membership is None:
                raise CommandError(f"{user} is not a member of team {team}.")
            result = services.create_key(membership=membership, name=name, permissions=permissions, expires_at=expiry)
        except APIException as exc:
            raise CommandError(str(exc.detail)) from exc
        self.stdout.write(f"Created key {result.key.pk} ({result.key.name}) in {membership.team.name}.")
        self.stdout.write("Store it now; it is not shown again:\n")
        self.stdout.write(result.raw)
