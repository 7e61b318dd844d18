# The GhostFlow platform image: the project's wheel and its dependencies are installed at build time
# (pinned by constraints.txt), so starting a container needs no network. It runs from the installed
# package, not from a copy of the source tree (scripts/check_installed_wheel.py checks the same wheel
# in CI), as an unprivileged user. Management commands: `django-admin <command>` (the image sets
# DJANGO_SETTINGS_MODULE), e.g. `docker compose run --rm api django-admin createsuperuser`.
FROM python:3.11-slim AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /dist .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    STATIC_ROOT=/opt/ghostflow/static

# Dependencies first: this layer is rebuilt only when the project's requirements change.
COPY pyproject.toml constraints.txt /tmp/build/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/build/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/build/requirements.txt \
    && pip install -c /tmp/build/constraints.txt -r /tmp/build/requirements.txt
COPY --from=wheel /dist/ /tmp/build/dist/
RUN pip install --no-deps /tmp/build/dist/*.whl \
    && rm -rf /tmp/build \
    && useradd --system --uid 10001 --home /app ghostflow
# The static files, collected once, here: each under a name with its content's hash, gzipped beside
# it, served by WhiteNoise with a ten-year cache lifetime (config/settings.py, STATIC_ROOT). DEBUG=1
# for this command only: it reads no secret, and production settings would ask for every one.
RUN DEBUG=1 django-admin collectstatic --noinput --verbosity 0
# An empty working folder, the user's home, which it cannot write (nor anything else in the image):
# everything is imported from site-packages.
WORKDIR /app

USER ghostflow
EXPOSE 8000
# By default, the API service of the split deployment (docker-compose.yml, README Production notes):
# gunicorn sync workers on config.wsgi, behind nginx, which buffers whole requests and answers so a
# slow client never holds a worker. The access log keeps the path only (%(U)s): a key wrongly put
# in a URL is refused and never logged. gunicorn's control socket is off (it would go to $HOME,
# which this user cannot write), and the workers' heartbeat files are in /dev/shm (a tmpfs: a
# read-only or slow disk never stalls them). Nothing is written to the file system.
# The same image runs the stream service, the only one serving /api/v1/audit-log/stream (nginx
# routes it there): Django's stock ASGI handler under gunicorn's uvicorn worker, e.g.
#   gunicorn config.asgi:application --worker-class config.workers.UvicornWorker --bind 0.0.0.0:8000
#     --workers 2 --no-control-socket --worker-tmp-dir /dev/shm --access-logfile -
#   (with DATABASE_CONN_MAX_AGE=0)
# and the background worker (mail, deferred account work): django-admin run_worker --no-reload.
# nginx runs from the official image with deploy/nginx/ghostflow.conf.template.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--no-control-socket", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-", "--access-logformat", "%(h)s %(t)s \"%(m)s %(U)s\" %(s)s %(b)s %(L)s"]
