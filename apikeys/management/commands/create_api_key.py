"""Create a gf_ key from the command line and print it once."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from rest_framework.exceptions import APIException

from apikeys import services
from teams.models import Membership


class Command(BaseCommand):
    help = "Create an API key for a member of a team. The raw key is printed once and never stored."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username or e-mail of the key's owner.")
        parser.add_argument("--team", required=True, help="Team UUID.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--permissions", nargs="+", required=True, help="e.g. read write:campaigns")
        parser.add_argument("--expires-at", default=None, help="ISO 8601 expiry (optional).")

    def handle(self, *args, user, team, name, permissions, expires_at, **options):
        from django.utils.dateparse import parse_datetime

        membership = (
            Membership.objects.select_related("team", "user")
            .filter(Q(user__username=user) | Q(user__email__iexact=user), team_id=team)
            .first()
            if _is_uuid(team)
            else None
        )
        if membership is None:
            raise CommandError(f"{user} is not a member of team {team}.")
        expiry = None
        if expires_at:
            expiry = parse_datetime(expires_at)
            if expiry is None or expiry.tzinfo is None:
                raise CommandError("--expires-at must be an ISO 8601 datetime with a timezone.")
        try:
            result = services.create_key(membership=membership, name=name, permissions=permissions, expires_at=expiry)
        except APIException as exc:
            raise CommandError(str(exc.detail)) from exc
        self.stdout.write(f"Created key {result.key.pk} ({result.key.name}) in {membership.team.name}.")
        self.stdout.write("Store it now; it is not shown again:\n")
        self.stdout.write(result.raw)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
