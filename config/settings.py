"""GhostFlow platform settings.

Every value comes from the environment (django-environ); README.md has the table. The embedded
defaults need nothing installed (SQLite file, local-memory cache, console e-mail). With DEBUG off
there is no insecure default: a missing secret stops start-up with a message naming it.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
DEBUG = env.bool("DEBUG", default=False)


def _secret(name: str, *, dev_default: str, min_length: int) -> str:
    """A secret is required when DEBUG is off; in DEBUG a fixed, visibly insecure value is used."""
    value = env.str(name, default="")
    if not value:
        if DEBUG:
            return dev_default
        raise ImproperlyConfigured(
            f"{name} is not set. It is required when DEBUG is off; generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`. For the development "
            "server `make run` starts, use its settings instead: `make key TEAM=...` or "
            "`make manage CMD=...` (they set DEBUG=1)."
        )
    if len(value) < min_length and not DEBUG:
        raise ImproperlyConfigured(f"{name} must be at least {min_length} characters long.")
    return value


SECRET_KEY = _secret("SECRET_KEY", dev_default="dev-only-insecure-secret-key-" + "x" * 30, min_length=50)
# A dedicated key for JWTs: rotating it logs everybody out without touching sessions or signing.
JWT_SIGNING_KEY = _secret("JWT_SIGNING_KEY", dev_default="dev-only-insecure-jwt-signing-key-xxxxxxxx", min_length=32)
# The server-side peppers of API-key digests (HMAC-SHA256), by id. API_KEY_PEPPER is id 1;
# API_KEY_PEPPERS="2:<pepper>,3:<pepper>" adds more. New digests use the highest id; a key made
# under any configured pepper keeps working (README: "Rotating the API-key pepper").
API_KEY_PEPPER = _secret("API_KEY_PEPPER", dev_default="dev-only-insecure-api-key-pepper-xxxxxxxxx", min_length=32)


def _peppers(value: str) -> dict[int, str]:
    peppers = {1: API_KEY_PEPPER}
    for entry in filter(None, (part.strip() for part in value.split(","))):
        pepper_id, _, pepper = entry.partition(":")
        if not pepper_id.isdigit() or int(pepper_id) < 1 or (len(pepper) < 32 and not DEBUG):
            raise ImproperlyConfigured("API_KEY_PEPPERS: use `id:pepper` pairs, ids ≥ 1, peppers ≥ 32 characters.")
        peppers[int(pepper_id)] = pepper
    return peppers


API_KEY_PEPPERS = _peppers(env.str("API_KEY_PEPPERS", default=""))


def _encryption_keys() -> list[str]:
    """Fernet keys for secrets the server must read back (integrations' Admin keys): the first
    encrypts, all decrypt (integrations/secrets.py). Required when DEBUG is off."""
    from cryptography.fernet import Fernet

    keys = env.list("SECRETS_ENCRYPTION_KEYS", default=[])
    if not keys:
        if not DEBUG:
            raise ImproperlyConfigured(
                "SECRETS_ENCRYPTION_KEYS is not set. It is required when DEBUG is off; generate one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
            )
        keys = ["ZGV2LW9ubHktaW5zZWN1cmUtc2VjcmV0cy1rZXkteHg="]  # base64("dev-only-insecure-secrets-key-xx")
    for key in keys:
        try:
            Fernet(key)
        except ValueError as exc:
            raise ImproperlyConfigured("SECRETS_ENCRYPTION_KEYS: each key must be a Fernet key.") from exc
    return keys


SECRETS_ENCRYPTION_KEYS = _encryption_keys()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "accounts.admin_apps.GhostFlowAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "infra",
    "accounts",
    "teams",
    "apikeys",
    "audit",
    "usage",
    "tracking",
    "integrations",
    "livestream",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "infra.middleware.RequestIdMiddleware",
    "infra.middleware.APICacheControlMiddleware",
    "infra.middleware.QueryStringGuardMiddleware",
    # Sessions, Django's user and messages: pages only (admin, dashboard); API requests skip them.
    "infra.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "infra.middleware.AuthenticationMiddleware",
    "infra.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The request's transaction, then its audit event inside it (see each class).
    "infra.middleware.RequestTransactionMiddleware",
    "audit.middleware.APIKeyAuditMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Each app's own templates/ (the e-mails are infra's), so an installed wheel has them all.
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# Django's health check is a `SELECT 1` per request and connection; infra/db_health.py checks the
# idle socket instead, when each request starts, at no round trip.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
# Behind a transaction-mode pooler (PgBouncer's pool_mode=transaction; README, Production notes),
# each transaction, and each statement outside one, may run on another server connection: nothing
# may outlive a transaction on the server. DATABASE_POOLER=transaction turns off what would:
# prepared statements, server-side cursors (Django's DISABLE_SERVER_SIDE_CURSORS) and the
# `options` startup parameter (PgBouncer refuses it; it would set a whole session's parameters).
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER not in ("", "transaction"):
    raise ImproperlyConfigured("DATABASE_POOLER: leave it unset, or `transaction` behind PgBouncer (any pool mode).")
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=not DATABASE_POOLER)
if DATABASE_PREPARED_STATEMENTS and DATABASE_POOLER:
    raise ImproperlyConfigured("DATABASE_PREPARED_STATEMENTS=1 cannot go with DATABASE_POOLER=transaction.")
if DATABASE_POOLER:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# Prepared statements: a query the process has run twice is parsed and planned once per
# connection, not on every request; on the key request that is the page and the audit INSERT,
# 30% of PostgreSQL's CPU per request (README, Performance). They need server-side binding
# (psycopg's, which Django leaves off by default) and a connection that stays the server's:
# off behind a pooler (DATABASE_POOLER above).
# Each execution is still planned for its own values (plan_cache_mode=force_custom_plan): a
# generic plan cannot tell a key with 500,000 audit events from one with ten, and picked a
# plan that sorted all of them for the first page (1.7 s at 10M rows, bench/scale.py).
_postgresql = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if _postgresql and DATABASE_PREPARED_STATEMENTS:
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 2, "options": "-c plan_cache_mode=force_custom_plan"}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers wait for the lock instead of failing at once; IMMEDIATE takes the write
    # lock at BEGIN, so two transactions never deadlock upgrading a read lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A dead or frozen Redis must fail within CACHE_TIMEOUT_SECONDS (infra/ratelimit.py then answers
# 503 or lets the request through), never hold a worker for the OS timeout. Options in the URL
# (?socket_timeout=2) win.
CACHE_TIMEOUT_SECONDS = env.float("CACHE_TIMEOUT_SECONDS", default=0.5)


def cache_url_config(url: str) -> dict:
    config = env.cache_url_config(url)
    if config["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        # Django's backend passes OPTIONS on to redis-py's ConnectionPool.from_url.
        options = config.setdefault("OPTIONS", {})
        options.setdefault("socket_connect_timeout", CACHE_TIMEOUT_SECONDS)
        options.setdefault("socket_timeout", CACHE_TIMEOUT_SECONDS)
    return config


_cache_url = env.str("CACHE_URL", default="") or env.str("REDIS_URL", default="") or "locmemcache://"
CACHES = {"default": cache_url_config(_cache_url)}

# With DEBUG off, mail must be configured on purpose: the console backend would print codes and
# reset tokens to stdout (and so to the logs). `EMAIL_URL=consolemail://` still allows it, by name.
_email_url = env.str("EMAIL_URL", default="")
if not _email_url:
    if not DEBUG:
        raise ImproperlyConfigured(
            "EMAIL_URL is not set. It is required when DEBUG is off, e.g. "
            "smtp+tls://user:password@smtp.example.com:587; `consolemail://` prints every mail "
            "(codes and reset links included) to the console."
        )
    _email_url = "consolemail://"
EMAIL_CONFIG = env.email_url_config(_email_url)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="GhostFlow <no-reply@localhost>")
# Links in e-mails are built from this, never from the request's Host header.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
# An SMTP server that stops answering fails the attempt (it is retried) instead of holding the
# background worker.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- Background work (infra/background.py): mail and deferred account work, on django-tasks ---
# The default backend keeps the queue in this database (django-tasks-db), worked through by
# `manage.py run_worker`. TASKS_BACKEND=django_tasks_rq.RQBackend moves it to Redis (README,
# Background work): install django-tasks-rq, run `manage.py rqworker --job-class
# django_tasks_rq.Job --with-scheduler` instead.
TASKS_BACKEND = env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend")
TASKS = {"default": {"BACKEND": TASKS_BACKEND, "QUEUES": ["default"]}}
if TASKS_BACKEND == "django_tasks_rq.RQBackend":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    RQ_QUEUES = {"default": {"URL": env.str("REDIS_URL")}}
# An attempt still running after this many seconds lost its worker and is retried (a mail takes
# at most EMAIL_TIMEOUT a step); finished tasks are deleted after BACKGROUND_RETENTION_DAYS.
BACKGROUND_CLAIM_TIMEOUT = env.int("BACKGROUND_CLAIM_TIMEOUT", default=300)
BACKGROUND_RETENTION_DAYS = env.int("BACKGROUND_RETENTION_DAYS", default=7)
# How often the worker's housekeeping runs (retries of lost work, periodic jobs), in seconds.
BACKGROUND_HOUSEKEEPING_SECONDS = env.int("BACKGROUND_HOUSEKEEPING_SECONDS", default=60)
# Usage at a glance (usage/): the worker adds the audit log's new requests to the hourly usage of
# each key, integration and team every USAGE_ROLLUP_SECONDS, up to USAGE_LAG_SECONDS ago (time for
# a transaction to commit and for servers' clocks to differ); rows older than USAGE_RETENTION_DAYS
# are dropped.
USAGE_ROLLUP_SECONDS = env.int("USAGE_ROLLUP_SECONDS", default=60)
USAGE_LAG_SECONDS = env.int("USAGE_LAG_SECONDS", default=60)
USAGE_RETENTION_DAYS = env.int("USAGE_RETENTION_DAYS", default=90)

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_MAX_LENGTH = 128

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` puts the static files (the image does it at build time: Dockerfile). Then
# every file is served under a name with its content's hash (the dashboard's ES module imports
# rewritten to match: infra/staticfiles.py), gzip-compressed beside, and WhiteNoise sends the hashed
# names with `Cache-Control: max-age=315360000, public, immutable`. Without it (`make run`, the
# tests, a wheel installed without that step), WhiteNoise serves straight from the installed
# packages (Swagger UI comes from drf-spectacular-sidecar) under their own names.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
_static_storage = (
    "infra.staticfiles.ManifestStaticFilesStorage" if STATIC_ROOT else "whitenoise.storage.CompressedStaticFilesStorage"
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": _static_storage},
}
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

# Request bodies: anything bigger is refused with 413 before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)

# --- Security headers and cookies. Secure by default when DEBUG is off. ---
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto (and, for the client IP, its
# X-Forwarded-For) only when told so. A spoofed header must not change anything otherwise.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health probes come over plain HTTP from the orchestrator.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- REST framework ---
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=50)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=100)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Order matters: the key class claims only gf_ credentials, the JWT class everything else.
        "apikeys.authentication.APIKeyAuthentication",
        "integrations.authentication.AdminTokenAuthentication",  # `Ghost <jwt>`, or Bearer with an Admin-key kid
        "accounts.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["infra.parsers.JSONParser"],
    # Escape non-ASCII in JSON answers: a lone surrogate that reaches the renderer is written as
    # `\ud800` instead of failing to encode (a 500).
    "UNICODE_JSON": False,
    "DEFAULT_PAGINATION_CLASS": "infra.pagination.CursorPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "EXCEPTION_HANDLER": "infra.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "infra.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Rate limits are declared on the views (`rate_limit`) and applied here: infra/ratelimit.py.
    "DEFAULT_THROTTLE_CLASSES": ["infra.ratelimit.DeclaredRateLimit"],
    "DEFAULT_THROTTLE_RATES": {},
    "NUM_PROXIES": None,
}

# --- JWT (simplejwt) ---
JWT_ACCESS_TOKEN_LIFETIME = env.int("JWT_ACCESS_TOKEN_LIFETIME", default=300)
JWT_REFRESH_TOKEN_LIFETIME = env.int("JWT_REFRESH_TOKEN_LIFETIME", default=14 * 24 * 3600)
# Absolute cap of a login family: after this, refresh fails even if every token was rotated in time.
JWT_SESSION_MAX_AGE = env.int("JWT_SESSION_MAX_AGE", default=30 * 24 * 3600)
# Step-up ("sudo mode"): the acts that hand out power (keys, roles, members, invitations,
# integrations, deleting a team, the password) need the login to have proved who it is within
# this many seconds: at the login itself or at POST /auth/reauthenticate (accounts/reauth.py).
REAUTH_SECONDS = env.int("REAUTH_SECONDS", default=600)
# The browser's session mode (X-GhostFlow-Session: cookie, accounts/cookies.py): the refresh token
# lives in the HttpOnly `gf_refresh` cookie, sent over HTTPS only unless DEBUG.
REFRESH_COOKIE_SECURE = env.bool("REFRESH_COOKIE_SECURE", default=not DEBUG)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=JWT_ACCESS_TOKEN_LIFETIME),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=JWT_REFRESH_TOKEN_LIFETIME),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUDIENCE": env.str("JWT_AUDIENCE", default="ghostflow-api"),
    "ISSUER": env.str("JWT_ISSUER", default="ghostflow"),
    "LEEWAY": 0,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
    # An access token carries a fingerprint of the password hash: a password change kills it too.
    "CHECK_REVOKE_TOKEN": True,
    "CHECK_USER_IS_ACTIVE": True,
}

# --- Account lifecycle ---
# When false, only a staff user or a team admin may register accounts.
REGISTRATION_OPEN = env.bool("REGISTRATION_OPEN", default=True)
EMAIL_CODE_LIFETIME = env.int("EMAIL_CODE_LIFETIME", default=600)
PASSWORD_RESET_LIFETIME = env.int("PASSWORD_RESET_LIFETIME", default=900)
# Second factors (accounts/mfa.py): how long a sign-in that waits for its second factor may wait
# (seconds), and the issuer name authenticator apps show beside the account.
SECOND_FACTOR_TICKET_SECONDS = env.int("SECOND_FACTOR_TICKET_SECONDS", default=300)
TOTP_ISSUER = env.str("TOTP_ISSUER", default="GhostFlow")
# Passkeys (accounts/passkeys.py, WebAuthn). The relying party id is the domain the passkeys are
# bound to (the dashboard's host or a parent domain of it; never an IP address); the origins are
# the exact scheme://host[:port] pages that may use them. Both default from SITE_URL.
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default=urlsplit(SITE_URL).hostname or "localhost")
WEBAUTHN_RP_NAME = env.str("WEBAUTHN_RP_NAME", default="GhostFlow")
WEBAUTHN_ORIGINS = env.list("WEBAUTHN_ORIGINS", default=[SITE_URL])
# How long a passkey ceremony (the challenge the browser signs) stays usable (seconds).
WEBAUTHN_CEREMONY_SECONDS = env.int("WEBAUTHN_CEREMONY_SECONDS", default=300)
INVITATION_LIFETIME_DAYS = env.int("INVITATION_LIFETIME_DAYS", default=7)
GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
GOOGLE_JWKS_URL = env.str("GOOGLE_JWKS_URL", default="https://www.googleapis.com/oauth2/v3/certs")
GOOGLE_JWKS_CACHE_SECONDS = env.int("GOOGLE_JWKS_CACHE_SECONDS", default=3600)

# --- Rate limits (infra/ratelimit.py): per IP and per account, shared through the cache. ---
RATE_LIMITS_ENABLED = env.bool("RATE_LIMITS_ENABLED", default=True)
RATE_LIMITS = {
    # Failed attempts only, per identifier as typed (accounts.sessions.count_login_attempt): from
    # one client (account_per_ip), and from every client together (account).
    "login": {"ip": "30/5m", "account_per_ip": "10/15m", "account": "30/15m"},
    "refresh": {"ip": "120/5m"},
    "register": {"ip": "10/h"},
    "verify_email": {"ip": "30/15m", "account": "10/15m"},
    "resend_verification": {"ip": "10/h", "account": "3/h"},
    # Recovery is never refused per account (that would let anyone lock the owner out): the
    # account budget only caps how many mails are sent, and the answer stays the same.
    "forgot_password": {"ip": "10/h", "account": "5/h"},
    "reset_password": {"ip": "20/15m"},
    "change_password": {"ip": "20/15m", "account": "10/15m"},
    # Failed re-authentications (step-up), per account: what a stolen session may guess.
    "reauthenticate": {"ip": "20/15m", "account": "10/15m"},
    "google": {"ip": "30/5m"},
    # Changing the e-mail address (accounts/email_change.py) mails a code: per client and per account.
    "change_email": {"ip": "10/h", "account": "5/h"},
    # Leaked-key reports (apikeys/leaks.py), signed by the reporter: per client.
    "secret_scanning": {"ip": "60/m"},
    # Passwordless passkey sign-in (accounts/passkeys.py): per client; the options it asks for too.
    "passkey_sign_in": {"ip": "30/5m"},
    # Second-factor codes (accounts/mfa.py): failures per account, like passwords.
    "second_factor": {"ip": "30/5m", "account": "10/15m"},
    "accept_invitation": {"ip": "30/15m"},
    # The public Content API (integrations/content.py): per IP, and per Content key.
    "content_api": {"ip": "300/m"},
    "content_api_key": {"account": "1200/m"},
    # Live audit stream tokens (livestream/tokens.py), per team: the dashboard asks for one per
    # (re)connection; a script that asks in a loop is stopped well before it holds every stream.
    "audit_stream_token": {"account": "120/m"},
}
RATE_LIMITS.update(env.json("RATE_LIMITS", default={}))
# What a limit does while the cache is unreachable (infra/ratelimit.py); a scope missing here
# fails closed. "closed": 503 service_unavailable + Retry-After, for limits that guard guessable
# secrets (passwords, e-mailed codes, invitation tokens) or send mail. "open": the request goes
# through uncounted, for limits in front of checks that are strong on their own, so signed-in
# users keep working: a refresh token is a signed JWT checked against the database, a Google
# credential a signed ID token.
RATE_LIMITS_ON_CACHE_FAILURE = {
    "login": "closed",
    "second_factor": "closed",
    "verify_email": "closed",
    "reset_password": "closed",
    "change_password": "closed",
    "reauthenticate": "closed",
    "accept_invitation": "closed",
    "register": "closed",
    "resend_verification": "closed",
    "forgot_password": "closed",
    "refresh": "open",
    "google": "open",
    "passkey_sign_in": "closed",
    "secret_scanning": "open",
    "change_email": "closed",
    "content_api": "open",  # public, read-only data
    "content_api_key": "open",
    "audit_stream_token": "closed",  # uncounted, a script could mint tokens without limit
}

# --- API keys ---
# Leaked-key reports (apikeys/leaks.py): the public keys of the reporters (GitHub's secret
# scanning publishes its own at https://api.github.com/meta/public_keys/secret_scanning), as JSON
# {"<key_identifier>": "<PEM>"}. Empty: every report is refused (401).
SECRET_SCANNING_PUBLIC_KEYS = env.json("SECRET_SCANNING_PUBLIC_KEYS", default={})
# The principal cache (apikeys/principals.py): "auto" keeps resolved keys per process when the
# cache is Redis (shared, so every process sees revocations at once: infra/coherence.py); "on"
# also without Redis (one process only); "off" never.
PRINCIPAL_CACHE = env.str("PRINCIPAL_CACHE", default="auto")
PRINCIPAL_CACHE_SECONDS = env.int("PRINCIPAL_CACHE_SECONDS", default=30)
API_KEY_MAX_ACTIVE_PER_USER = env.int("API_KEY_MAX_ACTIVE_PER_USER", default=25)
API_KEY_MAX_GRACE_SECONDS = 24 * 3600

# --- Audit ---
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=90)
# Recording of every API-key request. Exists so bench/ can measure its cost; leave it on.
AUDIT_API_KEY_REQUESTS = env.bool("AUDIT_API_KEY_REQUESTS", default=True)
# The event of a *read* (GET/HEAD/OPTIONS) is the request's only write; waiting for its WAL flush
# was a third of the throughput in bench/. On PostgreSQL those events go through a second
# connection with synchronous_commit=off: the INSERT still succeeds or fails the request, but a
# database crash may lose the last fraction of a second of read events. Writes and their events
# always commit together, synchronously, on the default connection.
AUDIT_READS_ASYNC_COMMIT = env.bool("AUDIT_READS_ASYNC_COMMIT", default=True)
AUDIT_READS_DATABASE = "default"
# Behind a pooler no connection option reaches PostgreSQL: each read event's INSERT turns
# synchronous commit off for its own transaction instead (audit/services.py), on the default connection.
if AUDIT_READS_ASYNC_COMMIT and _postgresql and not DATABASE_POOLER:
    # This connection only ever runs the audit INSERT, whose plan cannot depend on its values:
    # it keeps PostgreSQL's default plan cache mode (a generic plan after five runs) instead of
    # the default connection's force_custom_plan, which replanned the INSERT into the partitioned
    # table on every request: about 130 µs of PostgreSQL CPU per key request (README, Performance).
    _audit_options = {**DATABASES["default"].get("OPTIONS", {}), "options": "-c synchronous_commit=off"}
    DATABASES["audit_reads"] = {**DATABASES["default"], "OPTIONS": _audit_options, "TEST": {"MIRROR": "default"}}
    AUDIT_READS_DATABASE = "audit_reads"

# The live audit stream (livestream/sse.py, livestream/fanout.py), served under ASGI.
# Heartbeat comment on an idle stream; how often each stream server re-checks that every holder
# may still watch (the stream ends with `event: revoked` within about this long); how often it
# polls the database for events whose announcement was lost (the only carrier between processes
# without Redis); how far back Last-Event-ID is replayed; the longest a stream stays open (the
# client then reconnects with Last-Event-ID); how many streams one process holds.
AUDIT_STREAM_HEARTBEAT_SECONDS = env.float("AUDIT_STREAM_HEARTBEAT_SECONDS", default=15)
AUDIT_STREAM_RECHECK_SECONDS = env.float("AUDIT_STREAM_RECHECK_SECONDS", default=2)
AUDIT_STREAM_POLL_SECONDS = env.float("AUDIT_STREAM_POLL_SECONDS", default=2)
AUDIT_STREAM_REPLAY_SECONDS = env.int("AUDIT_STREAM_REPLAY_SECONDS", default=3600)
AUDIT_STREAM_MAX_SECONDS = env.float("AUDIT_STREAM_MAX_SECONDS", default=3600)
AUDIT_STREAM_MAX_PER_PROCESS = env.int("AUDIT_STREAM_MAX_PER_PROCESS", default=1000)
AUDIT_STREAM_MAX_PER_TEAM = env.int("AUDIT_STREAM_MAX_PER_TEAM", default=50)
# How long each event is held before it is sent, so that events go out in id order even when two
# requests commit out of it (livestream/sse.py): longer than a request's transaction lasts.
AUDIT_STREAM_SETTLE_SECONDS = env.float("AUDIT_STREAM_SETTLE_SECONDS", default=0.5)
# Where committed events are announced to the stream servers: `auto` (the cache's Redis, when the
# cache is Redis; otherwise in-process plus the poll), `off` (the poll only), or a redis:// URL.
AUDIT_STREAM_BROKER = env.str("AUDIT_STREAM_BROKER", default="auto")

# --- OpenAPI ---
SPECTACULAR_SETTINGS = {
    "TITLE": "GhostFlow platform API",
    "DESCRIPTION": (
        "Identity and tenancy layer: API keys (`Authorization: Bearer gf_...`), JWT logins, teams "
        "(`X-Team-Id`), scopes and the audit log. Errors are RFC 9457 problem details with a stable `code`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "APIKeyStatusEnum": "apikeys.models.APIKey.Status",
        "CampaignStatusEnum": "tracking.models.Campaign.Status",
        "RoleEnum": "access.scopes.Role",
    },
    "PREPROCESSING_HOOKS": ["infra.schema.drop_trailing_slash_aliases"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "infra.schema.add_error_responses",
        "infra.schema.add_team_scheme",
    ],
    # Swagger UI keeps what was entered in "Authorize" (token, team) across page reloads.
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "deepLinking": True, "displayOperationId": False},
    "DISABLE_ERRORS_AND_WARNINGS": False,
}

# --- Logging: structured enough to grep; never a secret (see tests/test_secrets.py). ---
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # 4xx are answered with a problem document; Django's own "Bad Request" lines are noise.
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"level": "CRITICAL"},
    },
}
