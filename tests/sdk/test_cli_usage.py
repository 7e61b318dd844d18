"""`gf usage`, `gf key-policy` and the SDK's usage and key-policy methods, against a live server."""

from __future__ import annotations

import pytest
from ghostflow_client import GhostFlow
from ghostflow_client.cli import Exit

from tests.factories import count_usage

from .test_cli import as_json, log_in, ok, refused

pytestmark = pytest.mark.django_db(transaction=True)


def test_gf_usage_shows_a_keys_requests_the_teams_and_the_same_numbers_as_json(world, config_dir):
    log_in(world)
    raw_key = as_json("keys", "create", "Nightly", "-s", "read:campaigns")["raw_key"]
    with_key = {"GF_API_KEY": raw_key}
    ok("campaigns", "list", env=with_key)
    ok("campaigns", "list", env=with_key)
    refused(Exit.FORBIDDEN, "offers", "list", env=with_key)
    count_usage()

    of_key = as_json("usage", "--key", "Nightly")
    assert of_key["subject"]["type"] == "key" and of_key["totals"]["requests"] == 3
    assert of_key["totals"]["refusals"] == {"insufficient_scope": 1}
    assert of_key["last_used"]["ip"] == "127.0.0.1"
    shown = ok("usage", "--key", "Nightly")
    assert "Total: 3 requests (2 2xx, 0 3xx, 1 4xx, 0 5xx)" in shown.stdout
    assert "Refused: insufficient_scope 1" in shown.stdout
    assert "GET /api/v1/campaigns" in shown.stdout and "Last used:" in shown.stdout
    assert "As of" in shown.stderr
    by_day = as_json("usage", "--by", "day", "--periods", "7")
    assert by_day["granularity"] == "day" and len(by_day["series"]) == 7
    assert by_day["totals"]["requests"] == 3  # the team's: every key's
    assert "not both" in refused(Exit.USAGE, "usage", "--key", "Nightly", "--integration", "x")
    assert "periods" in refused(Exit.REFUSED, "usage", "--by", "day", "--periods", "200")


def test_the_sdk_reads_the_usage_of_a_key_an_integration_and_the_team(world, config_dir):
    with GhostFlow(base_url=world.url, team_id=world.team.pk) as client:
        client.login("ada", world.password)
        key = client.api_keys.create("Reporting", ["read:campaigns"])
        integration = client.integrations.create("Blog", ["read"])
        with GhostFlow(base_url=world.url, api_key=key["raw_key"], team_id=world.team.pk) as with_key:
            list(with_key.campaigns.list())
        count_usage()
        assert client.api_keys.usage(key["id"])["totals"]["2xx"] == 1
        assert client.integrations.usage(integration["id"], granularity="day")["totals"]["requests"] == 0
        team = client.teams.usage(periods=3)
        assert len(team["series"]) == 3 and team["totals"]["requests"] == 1
        assert team["top_routes"] == [{"route": "GET /api/v1/campaigns", "requests": 1}]


def test_gf_key_policy_shows_it_and_changes_only_what_is_given(world, config_dir):
    log_in(world)
    policy = as_json("key-policy")
    assert policy["expiry_required"] is False and policy["max_lifetime_days"] is None
    changed = as_json("key-policy", "--max-lifetime-days", "90", "--unused-days", "30", "--unused-action", "disable")
    assert (changed["max_lifetime_days"], changed["unused_days"], changed["unused_action"]) == (90, 30, "disable")
    assert "to expire" in refused(Exit.REFUSED, "keys", "create", "Forever", "-s", "read:campaigns")
    again = as_json("key-policy", "--default-rate-limit", "10/1s")
    assert again["default_rate_limits"] == [{"limit": 10, "seconds": 1}] and again["max_lifetime_days"] == 90
    cleared = as_json("key-policy", "--no-max-lifetime", "--no-unused-days", "--no-default-rate-limit")
    assert (cleared["max_lifetime_days"], cleared["unused_days"], cleared["default_rate_limits"]) == (None, None, [])
    assert "max lifetime (days)" in ok("key-policy").stdout


def test_a_member_cannot_read_the_teams_usage_or_change_its_key_policy(world, config_dir):
    log_in(world, username="bob")
    assert "admin" in refused(Exit.FORBIDDEN, "usage").lower()
    refused(Exit.FORBIDDEN, "key-policy")
