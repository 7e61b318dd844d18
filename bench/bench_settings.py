"""Settings for in-process benchmarks: the production settings plus a bench-only floor view."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
ALLOWED_HOSTS = ["*"]
RATE_LIMITS_ENABLED = False
