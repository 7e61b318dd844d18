import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_validates(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


def test_the_schema_declares_the_bearer_and_key_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiKeyBearer"]["scheme"] == "bearer"
    assert schemes["apiKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "`X-Api-Key: gf_...`",
    }


def _needs_team(operation) -> bool:
    requirements = operation.get("security", [])
    return bool(requirements) and all("teamId" in requirement for requirement in requirements)


def test_team_scoped_operations_require_x_team_id_with_every_credential(schema):
    assert schema["components"]["securitySchemes"]["teamId"]["in"] == "header"
    assert schema["components"]["securitySchemes"]["teamId"]["name"] == "X-Team-Id"
    members = schema["paths"]["/api/v1/team/members"]["get"]
    assert _needs_team(members)
    assert {frozenset(r) for r in members["security"]} == {
        frozenset({"jwtAuth", "teamId"}),
        frozenset({"apiKeyBearer", "teamId"}),
        frozenset({"apiKeyHeader", "teamId"}),
        frozenset({"integrationToken", "teamId"}),
    }
    assert not _needs_team(schema["paths"]["/api/v1/teams"]["get"])
    assert not _needs_team(schema["paths"]["/api/v1/auth/login"]["post"])


def test_operations_are_grouped_by_resource(schema):
    tags = {path: op["tags"] for path, item in schema["paths"].items() for op in item.values()}
    assert tags["/api/v1/auth/api-keys"] == ["API keys"]
    assert tags["/api/v1/campaigns"] == ["Campaigns"]
    assert tags["/api/v1/team/invitations"] == ["Invitations"]
    assert "v1" not in {tag for value in tags.values() for tag in value}


def test_the_key_creation_example_is_a_body_the_server_accepts(schema, as_user, owner, team):
    operation = schema["paths"]["/api/v1/auth/api-keys"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]
    body = next(iter(example.values()))["value"]
    response = as_user(owner, team).post("/api/v1/auth/api-keys", body, format="json")
    assert response.status_code == 201, response.json()


def test_paths_have_no_trailing_slash(schema):
    assert all(not p.endswith("/") for p in schema["paths"] if p.startswith("/api/v1/"))


def test_errors_are_documented_as_problem_details(schema):
    responses = schema["paths"]["/api/v1/team/members"]["get"]["responses"]
    for code in ("400", "401", "403"):
        assert "application/problem+json" in responses[code]["content"]


def test_swagger_ui_is_served_from_local_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    # Every asset from this server (a word search for "cdn" once matched a random token on the page).
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets and all(not re.match(r"^(?:[a-z]+:)?//", asset) for asset in assets), assets
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_the_schema_endpoint_answers(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
