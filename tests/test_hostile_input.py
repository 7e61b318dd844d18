"""Hostile input is a 4xx problem document, never a 500, and writes nothing.

Each class of hostile input is refused where it enters:

- the JSON parser (infra/parsers.py): nesting deeper than 64 levels, lone surrogates and NULs in
  any key or string value: 400 `malformed_request`;
- the query-string guard (infra/middleware.py): a NUL or lone surrogate in a query parameter:
  400 `invalid_query`;
- `datetime_param` (infra/params.py): a datetime whose offset pushes it out of range in UTC:
  400 `invalid_filter`;
- the renderer (UNICODE_JSON = False): a lone surrogate that reaches it is escaped, not a 500.

The fuzz test walks every operation of the OpenAPI schema as an anonymous caller, as the team's
owner (JWT) and with an API key.
"""

from __future__ import annotations

import io
import json
import re
import sys
import uuid
from datetime import UTC
from functools import cache

import pytest
from django.apps import apps
from django.db import connection
from django.http import QueryDict
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from audit.models import Action, AuditEvent
from infra.errors import BadRequest
from infra.middleware import QueryStringGuardMiddleware
from infra.params import datetime_param
from infra.parsers import MAX_DEPTH, JSONParser
from teams.invitations import invite
from teams.models import Membership
from tracking.models import Campaign, Domain, Network, Offer, Source

from .factories import make_integration

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
SURROGATE = "\ud800"
NUL = "\x00"
DEPTH = 5000
OVERFLOWING_RANGE = "since=0001-01-01T00:00:00-23:59&until=9999-12-31T23:59:59-23:59"


def deep_array(depth: int = DEPTH) -> str:
    return "[" * depth + "]" * depth


def deep_object(depth: int = DEPTH) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def raw(data) -> str:
    """JSON text with every non-ASCII character escaped: a lone surrogate travels as `\\ud800`."""
    text = json.dumps(data, ensure_ascii=True)
    assert "\\ud800" in text or "\\u0000" in text or not any(c in str(data) for c in (SURROGATE, NUL))
    return text


# --- the schema -------------------------------------------------------------------------------


@cache
def openapi() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def operations() -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in openapi()["paths"].items() for method in ops]


def operation(method: str, path: str) -> dict:
    return openapi()["paths"][path][method.lower()]


def _resolve(schema: dict) -> dict:
    components = openapi()["components"]["schemas"]
    while True:
        if "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[1]]
            continue
        for combinator in ("allOf", "oneOf", "anyOf"):
            if combinator in schema:
                # A nullable enum is oneOf [Enum, NullEnum]: the first option is the field's type.
                schema = schema[combinator][0]
                break
        else:
            return schema


def _filled(schema: dict, value: str):
    """`value` in every string of `schema` (properties, array items, nested objects); None if
    the schema holds no string."""
    schema = _resolve(schema)
    if schema.get("type") == "string" or any(isinstance(choice, str) for choice in schema.get("enum", [])):
        return value
    if schema.get("type") == "array":
        item = _filled(schema.get("items", {}), value)
        return None if item is None else [item]
    if "properties" in schema:
        body = {}
        for name, prop in schema["properties"].items():
            if prop.get("readOnly"):
                continue
            filled = _filled(prop, value)
            if filled is not None:
                body[name] = filled
        return body or None
    return None


def request_schema(method: str, path: str) -> dict | None:
    body = operation(method, path).get("requestBody")
    if body is None:
        return None
    return body["content"]["application/json"]["schema"]


def string_body(method: str, path: str, value: str) -> dict:
    """A body where every string field of the operation's request schema is `value` (a body
    without string fields gets `value` as a key, so the character is always in the document)."""
    return _filled(request_schema(method, path), value) or {value: value}


# --- the world: one of everything, so path parameters can name real objects -------------------


@pytest.fixture
def world(owner, team, member, key_for):
    network = Network.objects.create(team=team, name="Net")
    offer = Offer.objects.create(team=team, name="Offer", url="https://offer.example.com", network=network)
    domain = Domain.objects.create(team=team, hostname="track.example.com")
    source = Source.objects.create(team=team, name="Source")
    campaign = Campaign.objects.create(team=team, name="Campaign", domain=domain, offer=offer, source=source)
    invitation = invite(
        actor_membership=Membership.objects.get(user=owner, team=team), email="new@example.com", role="member"
    )
    key, raw_key = key_for(owner, team)
    integration = make_integration(owner, team).integration
    objects = {"campaigns": campaign, "domains": domain, "offers": offer, "sources": source, "networks": network}
    return {
        "key": key,
        "raw_key": raw_key,
        "member": member,
        "invitation": invitation,
        "integration": integration,
        "objects": objects,
    }


def real_path(path: str, world) -> str:
    resource = path.split("/")[3]
    ids = {
        "key_id": world["key"].pk,
        "user_id": world["member"].pk,
        "invitation_id": world["invitation"].pk,
        "integration_id": world["integration"].pk,
        "object_id": world["objects"][resource].pk if resource in world["objects"] else uuid.uuid4(),
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), uuid.uuid4())), path)


def random_path(path: str) -> str:
    return re.sub(r"\{\w+\}", lambda m: str(uuid.uuid4()), path)


PRINCIPALS = ["anonymous", "owner", "api_key"]


@pytest.fixture
def caller(request, world, owner, team, as_user, as_key, client):
    principal = request.param
    if principal == "owner":
        return as_user(owner, team)
    if principal == "api_key":
        return as_key(world["raw_key"], team)
    return client


# --- what "refused and nothing written" means -------------------------------------------------


def row_counts() -> dict[str, int]:
    """Rows of every model. API-key requests are audited whatever their answer (audit/middleware.py),
    so `api_request` events are counted apart: a refusal may add one, with its 4xx status. Every
    other event (login failures, denials of the services, rate limits) must not appear."""
    counts = {
        model._meta.label: model._base_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and model is not AuditEvent
    }
    events = AuditEvent.objects.all()
    counts["audit.AuditEvent (not api_request)"] = events.exclude(action=Action.API_REQUEST).count()
    counts["audit.AuditEvent (api_request < 400)"] = events.filter(
        action=Action.API_REQUEST, status_code__lt=400
    ).count()
    return counts


# The only statements a refused request may run that change a row: the audit event of an API-key
# request and the key's `last_used_at` (written at most once a minute, apikeys/authentication.py).
_ALLOWED_WRITE = re.compile(
    r'^(INSERT INTO "audit_auditevent"|UPDATE "apikeys_apikey" SET "last_used_at" = [^,]+ WHERE)', re.IGNORECASE
)
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def send(client, method: str, url: str, body: str | None = None):
    """Send a request; return (response, the statements it ran that wrote, rows before, rows after)."""
    before = row_counts()
    kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
    with CaptureQueriesContext(connection) as queries:
        response = client.generic(method, url, **kwargs)
    writes = [q["sql"] for q in queries.captured_queries if _WRITE.match(q["sql"])]
    writes = [sql for sql in writes if not _ALLOWED_WRITE.match(sql)]
    return response, writes, before, row_counts()


def problem_of(response) -> dict:
    assert response.status_code < 500, response.content[:300]
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith(PROBLEM), response["Content-Type"]
    body = json.loads(response.content)
    assert {"type", "title", "status", "detail", "code"} <= body.keys()
    assert body["status"] == response.status_code
    assert body["code"]
    return body


def refused(client, method: str, url: str, body: str | None = None) -> dict:
    """Send, and check: a 4xx problem document, and nothing written."""
    response, writes, before, after = send(client, method, url, body)
    problem = problem_of(response)
    assert writes == [], writes
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    return problem


# --- the fuzz test ----------------------------------------------------------------------------


# Answers that refuse the caller before the view reads its body or filters: anonymous callers on
# protected operations, API keys on operations that need an interactive (JWT) login.
REFUSED_BEFORE_THE_BODY = {"not_authenticated", "interactive_login_required"}
# Bodies whose signature is checked before they are parsed (leaked-key reports): an unsigned body
# is refused for everybody before a parser sees it.
SIGNED_BODIES = {"/api/v1/secret-scanning/reports": "signature_invalid"}


def _op_id(op) -> str:
    return f"{op[0]} {op[1]}"


def _has_query_param(method: str, path: str, name: str) -> bool:
    return any(p["in"] == "query" and p["name"] == name for p in operation(method, path).get("parameters", []))


@pytest.mark.parametrize("caller", PRINCIPALS, indirect=True)
@pytest.mark.parametrize("op", operations(), ids=_op_id)
def test_no_operation_answers_hostile_input_with_a_500_or_a_write(op, caller, request, world):
    method, path = op
    principal = request.node.callspec.params["caller"]
    url = real_path(path, world)
    authenticated = principal != "anonymous"

    if request_schema(method, path) is not None:
        bodies = {
            "deep array": deep_array(),
            "deep object": deep_object(),
            "lone surrogates": raw(string_body(method, path, SURROGATE)),
            "NULs": raw(string_body(method, path, NUL)),
        }
        for case, body in bodies.items():
            problem = refused(caller, method, url, body)
            # The body is refused by the parser, before any serializer or service sees it (unless
            # the caller is refused first, which never reads the body).
            if path in SIGNED_BODIES:
                assert problem["code"] == SIGNED_BODIES[path], (case, problem)
                continue
            assert problem["code"] in {"malformed_request", *REFUSED_BEFORE_THE_BODY}, (case, problem)
            if principal == "owner":
                assert problem["code"] == "malformed_request", (case, problem)

    # Refused by the query-string guard before authentication: the same answer for everybody.
    for query in ("search=%00", "%00=1", f"search=a%00b&{OVERFLOWING_RANGE}"):
        problem = refused(caller, method, f"{url}?{query}")
        assert problem["code"] == "invalid_query", (query, problem)

    # The datetime filters: an out-of-range instant is a 400 where they are read, and ignored
    # elsewhere. Operations that act on an object get a random id (no such object: 404). The few
    # that act without an id may then succeed (DELETE /team as its owner: 204): the query is not
    # theirs to read, so that answer is right; it must still not be a 500. Sent last, for that.
    target = url if method == "GET" else random_path(path)
    response, writes, before, after = send(caller, method, f"{target}?{OVERFLOWING_RANGE}")
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        problem_of(response)
        assert writes == [], writes
        assert after == before
    if authenticated and _has_query_param(method, path, "since"):
        assert problem_of(response)["code"] in {"invalid_filter", *REFUSED_BEFORE_THE_BODY}
        if principal == "owner":
            assert response.status_code == 400
            assert problem_of(response)["code"] == "invalid_filter"


def test_the_fuzz_test_covers_every_operation_with_a_body():
    ops = operations()
    assert len(ops) > 50
    with_body = [op for op in ops if request_schema(*op) is not None]
    assert ("POST", "/api/v1/auth/login") in with_body
    assert ("POST", "/api/v1/sources") in with_body
    for op in with_body:
        for char, escape in ((SURROGATE, "\\ud800"), (NUL, "\\u0000")):
            assert escape in raw(string_body(*op, char)), op
    # choice and foreign-key fields are among the strings that get the character
    assert string_body("POST", "/api/v1/campaigns", SURROGATE)["status"] == SURROGATE
    assert string_body("POST", "/api/v1/offers", SURROGATE)["network"] == SURROGATE


# --- 1. nesting -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [deep_array(), deep_object()], ids=["array", "object"])
def test_deeply_nested_json_is_a_400(client, text):
    problem = refused(client, "POST", "/api/v1/auth/login", text)
    assert problem["status"] == 400
    assert problem["code"] == "malformed_request"
    assert "64" in problem["detail"]


def test_deeply_nested_json_is_a_400_for_a_logged_in_caller_too(as_user, owner, team):
    problem = refused(as_user(owner, team), "POST", "/api/v1/sources", '{"name": "x", "kind": ' + deep_array() + "}")
    assert problem["code"] == "malformed_request"


def test_nesting_is_bounded_whatever_the_recursion_limit(client):
    # 200 levels are far below the interpreter's recursion limit: refused by the explicit bound.
    assert sys.getrecursionlimit() > 200
    problem = refused(client, "POST", "/api/v1/auth/login", deep_array(200))
    assert problem["code"] == "malformed_request"


def _parse(text: str):
    return JSONParser().parse(io.BytesIO(text.encode()), "application/json", {})


def test_the_parser_accepts_64_levels_and_refuses_65():
    assert MAX_DEPTH == 64
    assert _parse(deep_array(64)) is not None
    assert _parse(deep_object(64)) is not None
    from rest_framework.exceptions import ParseError

    for text in (deep_array(65), deep_object(65)):
        with pytest.raises(ParseError):
            _parse(text)


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"name": "[" * 500 + "{" * 500, "quote": '\\"[[[', "list": [1, [2]]})
    assert _parse(text)["name"] == "[" * 500 + "{" * 500


def test_valid_json_with_escapes_and_astral_characters_still_parses():
    data = {"name": "café ☕ \U0001f600", "path": "a\\b", "quote": 'say "hi"', "n": [1, 2.5, None, True]}
    assert _parse(json.dumps(data, ensure_ascii=True)) == data
    assert _parse(json.dumps(data, ensure_ascii=False)) == data


# --- 2. lone surrogates and NULs in the body --------------------------------------------------


def test_lone_surrogate_in_a_choice_field_is_a_400(as_user, owner, team):
    problem = refused(as_user(owner, team), "POST", "/api/v1/sources", raw({"name": "x", "kind": SURROGATE}))
    assert problem["status"] == 400
    assert problem["code"] == "malformed_request"
    assert "surrogate" in problem["detail"]
    assert not Source.objects.exists()


def test_lone_surrogate_in_a_foreign_key_field_is_a_400(as_user, owner, team):
    body = raw({"name": "x", "url": "https://offer.example.com", "network": SURROGATE})
    problem = refused(as_user(owner, team), "POST", "/api/v1/offers", body)
    assert problem["code"] == "malformed_request"
    assert "surrogate" in problem["detail"]


def test_lone_surrogate_in_an_update_is_a_400_and_changes_nothing(as_user, owner, team, world):
    campaign = world["objects"]["campaigns"]
    problem = refused(as_user(owner, team), "PATCH", f"/api/v1/campaigns/{campaign.pk}", raw({"status": SURROGATE}))
    assert problem["code"] == "malformed_request"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_lone_surrogate_in_a_key_is_a_400(client):
    problem = refused(client, "POST", "/api/v1/auth/login", raw({SURROGATE: "x", "username": "u", "password": "p"}))
    assert problem["code"] == "malformed_request"
    assert "key" in problem["detail"]


def test_lone_surrogate_deep_inside_an_array_is_a_400(as_user, owner, team):
    body = raw({"name": "k", "permissions": ["read:campaigns", [{"x": SURROGATE}]]})
    problem = refused(as_user(owner, team), "POST", "/api/v1/auth/api-keys", body)
    assert problem["code"] == "malformed_request"


def test_a_valid_surrogate_pair_is_an_ordinary_character(as_user, owner, team):
    response = as_user(owner, team).post(
        "/api/v1/sources", '{"name": "smile \\ud83d\\ude00", "kind": "search"}', content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert Source.objects.get().name == "smile \U0001f600"


def test_nul_in_a_body_string_is_a_400(client):
    body = raw({"username": "owner" + NUL, "password": "x"})
    problem = refused(client, "POST", "/api/v1/auth/login", body)
    assert problem["status"] == 400
    assert problem["code"] == "malformed_request"
    assert "NUL" in problem["detail"]


def test_nul_in_a_choice_field_is_a_400(as_user, owner, team):
    problem = refused(as_user(owner, team), "POST", "/api/v1/sources", raw({"name": "x", "kind": NUL}))
    assert problem["code"] == "malformed_request"
    assert "NUL" in problem["detail"]


def test_utf8_encoded_surrogates_are_a_400(client):
    # Not JSON escapes but raw bytes (CESU-8): not UTF-8 at all.
    body = b'{"username": "\xed\xa0\x80", "password": "x"}'
    response = client.post("/api/v1/auth/login", body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith(PROBLEM)
    assert response.json()["code"] == "malformed_request"


def test_the_renderer_escapes_a_lone_surrogate_instead_of_failing():
    rendered = JSONRenderer().render({"detail": f'"{SURROGATE}" is not a valid choice.', "name": "café"})
    assert json.loads(rendered) == {"detail": f'"{SURROGATE}" is not a valid choice.', "name": "café"}
    assert b"\\ud800" in rendered


# --- 3. the query string ----------------------------------------------------------------------


def test_nul_in_a_query_parameter_is_a_400(as_user, owner, team):
    response = as_user(owner, team).get("/api/v1/sources?search=%00")
    assert response.status_code == 400
    assert response["Content-Type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["code"] == "invalid_query"
    assert "NUL" in problem["detail"]
    assert response["X-Request-Id"]


def test_nul_in_a_query_parameter_name_is_a_400(client):
    response = client.get("/api/v1/sources?%00=x")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_query"


def test_nul_in_a_query_parameter_is_a_400_before_authentication(client):
    response = client.get("/api/v1/audit-log?search=%00")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_query"


def test_lone_surrogate_in_a_query_parameter_is_a_400():
    # Django decodes the query string as UTF-8 with replacement, so no client can deliver one
    # through WSGI today; the guard still refuses it if another path ever does.
    request = RequestFactory().get("/api/v1/sources?search=x")
    request.GET = QueryDict(mutable=True)
    request.GET.setlist("search", [SURROGATE])
    response = QueryStringGuardMiddleware(lambda r: pytest.fail("the view must not run"))(request)
    assert response.status_code == 400
    assert json.loads(response.content)["code"] == "invalid_query"


def test_too_many_query_parameters_is_a_400_problem(client, settings):
    query = "&".join(f"a{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = client.get(f"/api/v1/sources?{query}")
    assert response.status_code == 400
    assert response["Content-Type"].startswith(PROBLEM)
    assert response.json()["code"] == "bad_request"


def test_an_ordinary_query_string_passes_the_guard(as_user, owner, team, world):
    response = as_user(owner, team).get("/api/v1/sources?search=Sour%C3%A7e%20%E2%98%95")
    assert response.status_code == 200


# --- 4. datetimes whose offset overflows ------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["until=9999-12-31T23:59:59-23:59", "since=0001-01-01T00:00:00%2B23:59", OVERFLOWING_RANGE],
    ids=["until", "since", "both"],
)
def test_audit_since_with_an_overflowing_offset_is_a_400(as_user, owner, team, query):
    problem = refused(as_user(owner, team), "GET", f"/api/v1/audit-log?{query}")
    assert problem["status"] == 400
    assert problem["code"] == "invalid_filter"


def test_key_audit_log_with_an_overflowing_offset_is_a_400(as_user, owner, team, world):
    url = f"/api/v1/auth/api-keys/{world['key'].pk}/audit-log?until=9999-12-31T23:59:59-23:59"
    problem = refused(as_user(owner, team), "GET", url)
    assert problem["code"] == "invalid_filter"


def test_audit_since_with_an_extreme_offset_that_stays_in_range_is_accepted(as_user, owner, team):
    # 0001-01-01T00:00:00-23:59 is 0001-01-01T23:59:00Z; PostgreSQL refuses the -23:59 offset
    # itself, so the filter must reach the database in UTC.
    response = as_user(owner, team).get("/api/v1/audit-log?since=0001-01-01T00:00:00-23:59")
    assert response.status_code == 200, response.content


def test_datetime_param_converts_to_utc():
    value = datetime_param("2030-01-01T00:00:00-05:00", "since")
    assert value.tzinfo is UTC
    assert value.isoformat() == "2030-01-01T05:00:00+00:00"


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2030-01-01T00:00:00+99:99", "2030-01-01"]
)
def test_datetime_param_refuses_what_cannot_be_an_instant(value):
    with pytest.raises(BadRequest) as caught:
        datetime_param(value, "since")
    assert caught.value.code == "invalid_filter"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/campaigns", {"name": 123}),
        ("/api/v1/domains", {"hostname": -2839085.78}),
        ("/api/v1/auth/api-keys", {"name": 5, "permissions": ["read"]}),
    ],
)
def test_a_number_where_the_schema_says_string_is_a_400_and_writes_nothing(as_user, owner, team, path, body):
    from tracking.models import Campaign, Domain

    response = as_user(owner, team).post(path, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not Campaign.objects.exists() and not Domain.objects.exists()


def test_a_numeric_code_is_not_taken_for_the_text_code(client):
    response = client.post("/api/v1/auth/verify-email", {"email": "a@example.com", "code": 123456}, format="json")
    assert response.status_code == 400 and "code" in response.json()["errors"]
