"""Idempotent demo data: a demo user in two teams, printed with a ready-to-paste curl line."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from access.scopes import Role
from accounts.models import User
from teams.models import Membership, Team
from tracking.models import Campaign, Domain, Network, Offer, Source

DEMO_PASSWORD = "ghostflow-demo-pass"


class Command(BaseCommand):
    help = "Create (or refresh) the demo user, two teams and their memberships. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD, help="Password for the demo users.")

    def _user(self, username: str, email: str, password: str) -> User:
        user = User.objects.filter(username=username).first() or User(username=username, email=email)
        user.email = email
        user.is_active = True
        user.email_verified_at = user.email_verified_at or timezone.now()
        if not user.check_password(password):
            # Only when it differs: a new hash would sign the demo user out everywhere.
            user.set_password(password)
        user.save()
        return user

    def _team(self, name: str, members: list[tuple[User, str]]) -> Team:
        team = Team.objects.filter(name=name).order_by("created_at").first() or Team.objects.create(name=name)
        for user, role in members:
            Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
        return team

    @staticmethod
    def _resources(team: Team) -> None:
        """A few rows to look at in the dashboard, once per team."""
        if Network.objects.for_team(team).exists():
            return
        network = Network.objects.create(team=team, name="Affiliate One", postback_url="https://postback.example.com/1")
        offer = Offer.objects.create(
            team=team, name="Spring offer", url="https://offers.example.com/spring", payout=2.5, network=network
        )
        domain = Domain.objects.create(team=team, hostname="track.example.com")
        source = Source.objects.create(team=team, name="Newsletter", kind=Source.Kind.EMAIL)
        for name, status in (("Spring sale", "active"), ("Summer teaser", "draft"), ("Winter clearance", "paused")):
            Campaign.objects.create(team=team, name=name, status=status, domain=domain, offer=offer, source=source)

    @transaction.atomic
    def handle(self, *args, password: str, **options):
        demo = self._user("demo", "demo@example.com", password)
        alice = self._user("alice", "alice@example.com", password)
        acme = self._team("Acme Ads", [(demo, Role.OWNER), (alice, Role.MEMBER)])
        globex = self._team("Globex Media", [(alice, Role.OWNER), (demo, Role.ADMIN)])
        self._resources(acme)

        base = settings.SITE_URL
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  dashboard: {base}/")
        self.stdout.write(f"  user:     demo / {password}   (also: alice / {password})")
        self.stdout.write(f"  team 1:   {acme.name}  {acme.pk}  (demo is owner)")
        self.stdout.write(f"  team 2:   {globex.name}  {globex.pk}  (demo is admin)")
        self.stdout.write("\nLog in, then call a team-scoped endpoint:\n")
        self.stdout.write(
            f"  TOKEN=$(curl -s {base}/api/v1/auth/login -H 'Content-Type: application/json' "
            f'-d \'{{"username": "demo", "password": "{password}"}}\' '
            "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
        )
        self.stdout.write(
            f'  curl {base}/api/v1/team/members -H "Authorization: Bearer $TOKEN" -H "X-Team-Id: {acme.pk}"'
        )
        self.stdout.write(
            f"\nMake an API key for this server (shown once), in another terminal:\n  make key TEAM={acme.pk}"
        )
