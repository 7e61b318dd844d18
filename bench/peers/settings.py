"""The peers of the benchmark: the same campaigns list behind no authentication, behind
djangorestframework-api-key, DRF's TokenAuthentication and simplejwt. Django's default middleware,
PostgreSQL, DEBUG off. Installed from the `bench` extra; never part of the platform."""

import os
from datetime import timedelta

import environ

env = environ.Env()
SECRET_KEY = os.environ["PEERS_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_api_key",
    "peers.catalog",
]
MIDDLEWARE = [  # Django's default (startproject)
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "peers.urls"
DATABASES = {"default": env.db("PEERS_DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 600
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
SIMPLE_JWT = {"ACCESS_TOKEN_LIFETIME": timedelta(hours=1), "ALGORITHM": "HS256"}
