"""One error shape for every error: RFC 9457 problem details with a stable machine-readable `code`.

    {"type": "about:blank", "title": "Forbidden", "status": 403,
     "detail": "You are not a member of this team.", "code": "team_forbidden"}

Validation errors add `errors` (field -> list of messages); some errors add their own members
(`required_scope`, `valid_scopes`, ...). DRF exceptions, Django's 400/403/404/500 handlers and
the team-context step all build their answer here.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger("ghostflow.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"


class APIError(exceptions.APIException):
    """An API error with an explicit status, code and optional extra members."""

    def __init__(self, detail: str, *, code: str, status_code: int, **extra: Any) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.code = code
        self.extra = extra


class Conflict(APIError):
    def __init__(self, detail: str, *, code: str = "conflict", **extra: Any) -> None:
        super().__init__(detail, code=code, status_code=status.HTTP_409_CONFLICT, **extra)


class Forbidden(APIError):
    def __init__(self, detail: str, *, code: str = "permission_denied", **extra: Any) -> None:
        super().__init__(detail, code=code, status_code=status.HTTP_403_FORBIDDEN, **extra)


class BadRequest(APIError):
    def __init__(self, detail: str, *, code: str = "invalid", **extra: Any) -> None:
        super().__init__(detail, code=code, status_code=status.HTTP_400_BAD_REQUEST, **extra)


class Unauthorized(exceptions.AuthenticationFailed):
    """401 with a specific code; DRF adds WWW-Authenticate from the authenticator."""

    def __init__(self, detail: str, *, code: str) -> None:
        super().__init__(detail=detail, code=code)
        self.code = code


# Every `code` an error answer can carry, with its one HTTP status (the title is the status's
# phrase). Answering with an undeclared code, or a declared code with another status, is a bug:
# tests run with ERROR_CODES_STRICT and fail on it; production logs it. The docs' Error codes page
# is generated from this table (scripts/docs_reference.py).
ERROR_CODES: dict[str, int] = {
    # the request itself
    "validation_error": 400,
    "malformed_request": 400,
    "bad_request": 400,
    "invalid_query": 400,
    "invalid_filter": 400,
    "invalid_page_size": 400,
    "invalid_cursor": 400,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "not_acceptable": 406,
    "method_not_allowed": 405,
    "not_found": 404,
    "rate_limited": 429,
    "server_error": 500,
    "service_unavailable": 503,
    # credentials
    "not_authenticated": 401,
    "authentication_failed": 401,
    "invalid_credentials": 401,
    "email_unverified": 403,
    "token_invalid": 401,
    "token_expired": 401,
    "token_revoked": 401,
    "token_reused": 401,
    "session_expired": 401,
    "key_invalid": 401,
    "key_revoked": 401,
    "key_expired": 401,
    "key_owner_inactive": 401,
    "key_owner_removed": 401,
    "key_in_query": 401,
    # integrations: Admin-key tokens and Content keys
    "token_malformed": 401,
    "token_algorithm_invalid": 401,
    "kid_unknown": 401,
    "signature_invalid": 401,
    "audience_invalid": 401,
    "token_claims_missing": 401,
    "token_not_yet_valid": 401,
    "token_lifetime_too_long": 401,
    "integration_revoked": 401,
    "key_not_allowed_here": 401,
    "token_kid_in_payload": 401,
    "version_unsupported": 400,
    "invalid_origin": 400,
    # the Content API's parameters (Ghost's: limit, page, fields, include, order, filter in NQL)
    "invalid_limit": 400,
    "invalid_page": 400,
    "invalid_fields": 400,
    "invalid_include": 400,
    "invalid_order": 400,
    "filter_syntax_error": 400,
    "filter_field_unknown": 400,
    "filter_operator_invalid": 400,
    "filter_value_invalid": 400,
    # team context and permissions
    "team_required": 400,
    "team_invalid": 400,
    "team_forbidden": 403,
    "key_team_mismatch": 403,
    "insufficient_scope": 403,
    "interactive_login_required": 403,
    "reauthentication_required": 403,
    "second_factor_required": 403,
    "no_account": 403,
    "permission_denied": 403,
    "origin_mismatch": 403,
    "refresh_cookie_duplicated": 400,
    "owner_required": 403,
    "role_above_own": 403,
    "last_owner": 409,
    # keys
    "unknown_scope": 400,
    "permissions_required": 400,
    "scope_exceeds_role": 403,
    "expires_in_past": 400,
    "invalid_grace": 400,
    "key_limit_reached": 409,
    "key_owner_only": 403,
    "key_already_revoked": 409,
    "key_already_expired": 409,
    # accounts
    "username_taken": 400,
    "registration_closed": 403,
    "role_needs_team": 400,
    "code_invalid": 400,
    "email_unchanged": 400,
    "invalid_report": 400,
    "key_disabled": 401,
    "key_is_revoked": 409,
    "ip_not_allowed": 403,
    "key_expiry_required": 400,
    "key_rate_limited": 429,
    "key_quota_exhausted": 429,
    "key_lifetime_exceeded": 400,
    "email_taken": 409,
    "wrong_password": 400,
    "no_password": 403,
    "no_second_factor": 403,
    "no_passkey": 403,
    "password_required": 409,
    "google_disabled": 404,
    "google_unavailable": 503,
    "google_token_invalid": 401,
    "google_token_expired": 401,
    "google_email_unverified": 403,
    "google_account_conflict": 409,
    "google_not_linked": 409,
    # second factors (accounts/mfa.py)
    "second_factor_invalid": 400,
    "second_factor_expired": 400,
    "second_factor_reused": 400,
    "second_factor_ticket_invalid": 401,
    "second_factor_ticket_expired": 401,
    "second_factor_ticket_used": 401,
    "totp_already_enabled": 409,
    "totp_not_enabled": 409,
    "totp_enrolment_not_started": 409,
    "passkey_invalid": 400,
    "passkey_counter_replayed": 400,
    "passkey_ceremony_invalid": 400,
    "passkey_ceremony_expired": 400,
    "passkey_ceremony_used": 400,
    "passkey_exists": 409,
    "passkey_limit": 409,
    "passkey_not_registered": 409,
    "own_second_factor_required": 409,
    # invitations
    "already_member": 409,
    "invitation_invalid": 400,
    "invitation_expired": 400,
    "invitation_email_mismatch": 403,
    "invitation_inviter_changed": 409,
}


class UndeclaredErrorCode(Exception):
    """An answer with a code missing from ERROR_CODES, or with another status than declared."""


def _check_declared(status_code: int, code: str) -> None:
    if ERROR_CODES.get(code) == status_code:
        return
    message = f"Error code {code!r} with status {status_code} is not declared in infra.errors.ERROR_CODES"
    if getattr(settings, "ERROR_CODES_STRICT", False):
        raise UndeclaredErrorCode(message)
    logger.error(message)


def problem(status_code: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    _check_declared(status_code, code)
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    body.update(extra)
    return body


def problem_response(status_code: int, code: str, detail: str, **extra: Any) -> JsonResponse:
    """A plain Django response in the problem shape (for code that runs outside DRF)."""
    return JsonResponse(
        problem(status_code, code, detail, **extra), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )


DATABASE_RETRY_AFTER = 5
DATABASE_UNAVAILABLE = "The service is temporarily unavailable; try again shortly."


def database_unavailable() -> JsonResponse:
    """The answer when the database connection is lost: a dependency outage, not a server bug."""
    response = problem_response(503, "service_unavailable", DATABASE_UNAVAILABLE)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


# DRF's default codes, renamed where ours are clearer.
_CODE_BY_CLASS: dict[type, str] = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "malformed_request",
    exceptions.ValidationError: "validation_error",
}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _api_exception_body(exc: exceptions.APIException) -> dict[str, Any]:
    status_code = exc.status_code
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        if isinstance(errors, list):
            errors = {"non_field_errors": errors}
        return problem(status_code, "validation_error", "The request body or query is invalid.", errors=errors)
    code = getattr(exc, "code", None) or _CODE_BY_CLASS.get(type(exc))
    if code is None:
        default = exc.get_codes()
        code = default if isinstance(default, str) else exc.default_code
    if code == "token_not_valid":
        code = "token_invalid"
    detail = exc.detail
    if isinstance(detail, dict):
        # simplejwt puts {"detail", "code", "messages"} in detail; keep only the message.
        detail = detail.get("detail", "")
    extra = getattr(exc, "extra", {}) or {}
    return problem(status_code, str(code), str(detail), **extra)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF exception handler: every exception, known or not, becomes a problem response.

    Unknown exceptions are logged with their traceback and answered 500 without any detail, so a
    view that fails still has a final status code to audit and no stack trace leaves the server.
    """
    headers: dict[str, str] = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = APIError("The request body is too large.", code="payload_too_large", status_code=413)
    elif isinstance(exc, SuspiciousOperation):
        exc = APIError("The request was refused.", code="bad_request", status_code=400)
    elif isinstance(exc, DjangoValidationError):
        # A model-level validation error that escaped a serializer: still the client's input.
        exc = exceptions.ValidationError(exc.messages)

    if isinstance(exc, exceptions.APIException):
        body = _api_exception_body(exc)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait) + (0 if float(exc.wait).is_integer() else 1))
        response = Response(body, status=exc.status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
        return response

    if isinstance(exc, OperationalError | InterfaceError):
        # A lost or refused database connection: 503 (and the request's transaction, if any, is
        # rolled back by audit.middleware, which records the 503).
        logger.exception("Database unavailable", exc_info=exc)
        return Response(
            problem(503, "service_unavailable", DATABASE_UNAVAILABLE),
            status=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
            content_type=PROBLEM_CONTENT_TYPE,
        )

    request = context.get("request")
    logger.exception(
        "Unhandled error on %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"), exc_info=exc
    )
    return Response(
        problem(500, "server_error", "The server failed to process the request."),
        status=500,
        content_type=PROBLEM_CONTENT_TYPE,
    )


# Django-level handlers (URLs that DRF never sees, and failures outside views).
def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return problem_response(413, "payload_too_large", "The request body is too large.")
    return problem_response(400, "bad_request", "The request was refused.")


def permission_denied(request, exception=None):
    return problem_response(403, "permission_denied", "You do not have permission to perform this action.")


def page_not_found(request, exception=None):
    return problem_response(404, "not_found", "Not found.")


def server_error(request):
    return problem_response(500, "server_error", "The server failed to process the request.")
