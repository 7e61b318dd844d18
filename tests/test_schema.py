import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_validates(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


def test_it_declares_the_bearer_and_key_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiKeyBearer"]["scheme"] == "bearer"
    assert schemes["apiKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "`X-Api-Key: gf_...`",
    }


def _team_header(operation):
    return [p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == "X-Team-Id"]


def test_team_scoped_operations_declare_x_team_id(schema):
    members = schema["paths"]["/api/v1/team/members"]["get"]
    (header,) = _team_header(members)
    assert header["required"] is True
    assert header["schema"]["format"] == "uuid"
    assert not _team_header(schema["paths"]["/api/v1/teams"]["get"])
    assert not _team_header(schema["paths"]["/api/v1/auth/login"]["post"])


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
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_the_schema_endpoint_answers(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
