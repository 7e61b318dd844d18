"""The OpenAPI schema describes the Content API's answers exactly (issue 23, item 2): a client that
openapi-python-client generates from /api/schema/ lists campaigns on the main API (gf_ key) and
pages through the Content API with it; schemathesis finds no answer that breaks the schema
(ST108, response_schema_conformance) on the Content API's operations."""

import importlib
import json
import subprocess
import sys

import httpx
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from tracking.models import Campaign, Offer

from .factories import make_integration

PACKAGE = "gf_generated"
CONTENT_OPERATIONS = [
    "/api/content/v1/campaigns",
    "/api/content/v1/campaigns/{object_id}",
    "/api/content/v1/campaigns/slug/{slug}",
    "/api/content/v1/offers",
    "/api/content/v1/offers/{object_id}",
    "/api/content/v1/offers/slug/{slug}",
    "/api/content/v1/team",
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The package openapi-python-client generates from the schema /api/schema/ serves."""
    work = tmp_path_factory.mktemp("generated")
    schema = work / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(schema))
    config = work / "config.json"
    # No post hooks: the generated code is imported, not formatted (ruff need not be on PATH).
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(schema)]
    command += ["--config", str(config), "--meta", "none", "--output-path", str(work / PACKAGE)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests served by WSGIHandler here run in the test's transaction: like Django's test
    client, do not let the end of a request close the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _transport():
    """The generated client's requests go to this process's Django (and its test database)."""
    return httpx.WSGITransport(app=WSGIHandler())


@pytest.fixture
def world(admin, team):
    boots = Offer.objects.create(team=team, name="Boots", url="https://boots.example.com", payout=9)
    for n in range(1, 18):
        Campaign.objects.create(team=team, name=f"Live {n:02}", status="active", offer=boots if n == 1 else None)
    Campaign.objects.create(team=team, name="Draft", status="draft")
    return make_integration(admin, team, permissions=["read"])


@pytest.mark.django_db
def test_a_generated_client_lists_campaigns_with_a_gf_key(generated, key_for, admin, team, world):
    from gf_generated.api.campaigns import v1_campaigns_list

    _, raw = key_for(admin, team)
    client = generated.AuthenticatedClient(
        base_url="http://testserver",
        token=raw,
        headers={"X-Team-Id": str(team.pk)},
        httpx_args={"transport": _transport()},
    )
    answer = v1_campaigns_list.sync_detailed(client=client, page_size=50)
    assert answer.status_code == 200, answer.content
    listed = answer.parsed.results
    assert sorted(campaign.name for campaign in listed) == ["Draft"] + [f"Live {n:02}" for n in range(1, 18)]
    assert {campaign.slug for campaign in listed} >= {"live-01", "draft"}


@pytest.mark.django_db
def test_a_generated_client_pages_through_the_content_api_and_reads_by_slug(generated, world):
    from gf_generated.api.content_api import (
        content_campaigns_list,
        content_campaigns_read,
        content_campaigns_read_by_slug,
        content_offers_list,
        content_v1_team_retrieve,
    )

    client = generated.Client(
        base_url="http://testserver",
        headers={"Accept-Version": "v5.0"},
        httpx_args={"transport": _transport()},
    )
    key = world.content_key
    names, page = [], 1
    while page is not None:
        answer = content_campaigns_list.sync_detailed(client=client, key=key, limit="5", page=page, order="name asc")
        assert answer.status_code == 200, answer.content
        names += [campaign.name for campaign in answer.parsed.campaigns]
        pagination = answer.parsed.meta.pagination
        assert (pagination.limit, pagination.total, pagination.pages) == (5, 17, 4)
        page = pagination.next_
    assert names == [f"Live {n:02}" for n in range(1, 18)]

    chosen = content_campaigns_list.sync(client=client, key=key, filter_="slug:[live-01,live-02]", include="offer")
    offers = {campaign.slug: campaign.offer for campaign in chosen.campaigns}
    assert offers["live-01"].name == "Boots" and offers["live-02"] is None
    only_names = content_campaigns_list.sync(client=client, key=key, fields="name", limit="2")
    assert [campaign.name for campaign in only_names.campaigns] and all(
        not campaign.slug for campaign in only_names.campaigns
    )
    one = content_campaigns_read_by_slug.sync(client=client, slug="live-03", key=key).campaigns[0]
    assert one.name == "Live 03"
    assert content_campaigns_read.sync(client=client, object_id=str(one.id), key=key).campaigns[0].slug == "live-03"
    assert [offer.url for offer in content_offers_list.sync(client=client, key=key).offers] == [
        "https://boots.example.com"
    ]
    assert content_v1_team_retrieve.sync(client=client, key=key).name == world.integration.team.name


@pytest.mark.django_db
@pytest.mark.parametrize("path", CONTENT_OPERATIONS)
def test_schemathesis_finds_no_answer_that_breaks_the_schema(world, team, path):
    """ST108 on every Content API operation, with the integration's real key (so most answers are
    200s, not 401s), and explicitly on the answers with `fields` and `include`."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())
    operation = schema[path]["GET"]
    checks = [response_schema_conformance]
    statuses = []

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        case.query = {**(case.query or {}), "key": world.content_key}
        response = case.call()
        statuses.append(response.status_code)
        case.validate_response(response, checks=checks)

    check()
    assert 500 not in statuses
    if "{" not in path:
        assert 200 in statuses  # the schema's 200 answers were checked, not only refusals
    row = Campaign.objects.get(team=team, name="Live 01") if "campaigns" in path else Offer.objects.get(team=team)
    queries = [{}, {"fields": "name"}]
    if "campaigns" in path:
        queries += [{"include": "offer"}, {"fields": "slug", "include": "offer"}]
    for query in queries:
        case = operation.Case(
            query={"key": world.content_key, **query},
            path_parameters={"object_id": str(row.pk), "slug": row.slug} if "{" in path else {},
        )
        response = case.call()
        assert response.status_code == 200, response.content
        case.validate_response(response, checks=checks)
