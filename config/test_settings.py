"""Settings for the test suite: the production settings with DEBUG off and test-only secrets."""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "t" * 50)
os.environ.setdefault("JWT_SIGNING_KEY", "test-jwt-signing-key-" + "j" * 32)
os.environ.setdefault("API_KEY_PEPPER", "test-api-key-pepper-" + "p" * 32)
os.environ.setdefault("SECRETS_ENCRYPTION_KEYS", "dGVzdC1zZWNyZXRzLWVuY3J5cHRpb24ta2V5LXR0dHQ=")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("EMAIL_URL", "consolemail://")  # replaced by locmem below
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")

from config.settings import *  # noqa: F403

# Hashing passwords at full cost would dominate the suite; the timing test asserts the *shape*
# (an unknown user costs a hash too), which holds for any hasher.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory: threads in the concurrency tests then wait on SQLite's
    # lock (busy timeout) instead of failing with "database table is locked".
    # TEST_SQLITE_PATH: another file for a second run in the same checkout (xdist adds _gw0, _gw1).
    test_database = os.environ.get("TEST_SQLITE_PATH") or str(BASE_DIR / ".test-db.sqlite3")  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": test_database}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Background work (mail, deferred account work) runs at once, in the caller (infra/background.py).
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
# TEST_CACHE_URL=redis://... runs the suite (rate limits included) against Redis, as CI does.
CACHES = {"default": cache_url_config(os.environ.get("TEST_CACHE_URL", "locmemcache://ghostflow-tests"))}  # noqa: F405
# Parallel test workers share that Redis: each keeps its own keys (rate-limit counters, the
# access generation), or one worker's changes would show up in another's query budgets.
CACHES["default"]["KEY_PREFIX"] = os.environ.get("PYTEST_XDIST_WORKER", "")
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# Tests run every query on one connection so that transactions roll back per test and query
# budgets count everything; tests/test_settings.py checks the production alias separately.
DATABASES.pop("audit_reads", None)  # noqa: F405
AUDIT_READS_DATABASE = "default"

# An answer with an undeclared error code (or a declared one with another status) fails the test.
ERROR_CODES_STRICT = True

# Off by default: many tests change keys and memberships with the ORM behind the services' back.
# tests/test_principal_cache.py turns it on.
PRINCIPAL_CACHE = "off"

# Every request's statements on tenant tables must go through access.tenancy (for_team with the
# request's team, or a named across_teams): tests/tenancy_guard.py refuses any other, and fails
# the test. First, so that it sees everything the request runs.
MIDDLEWARE = ["tests.tenancy_guard.TenancyGuardMiddleware", *MIDDLEWARE]  # noqa: F405
# Usage counts events up to USAGE_LAG_SECONDS ago; tests count what they just did
# (tests/test_usage.py sets a lag where it tests one).
USAGE_LAG_SECONDS = 0
