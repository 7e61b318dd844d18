# The GhostFlow platform image: dependencies are installed at build time (pinned by
# constraints.txt), so starting a container needs no network. Runs as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first: this layer is rebuilt only when the project's requirements change.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt
COPY . .
RUN pip install --no-deps -c constraints.txt . \
    && useradd --system --uid 10001 --home /app ghostflow

USER ghostflow
EXPOSE 8000
# By default, the API service of the split deployment (docker-compose.yml, README Production notes):
# gunicorn sync workers on config.wsgi, behind nginx, which buffers whole requests and answers so a
# slow client never holds a worker. The access log keeps the path only (%(U)s): a key wrongly put
# in a URL is refused and never logged. gunicorn's control socket is off (it would go to $HOME,
# which this user cannot write).
# The same image runs the stream service, the only one serving /api/v1/audit-log/stream (nginx
# routes it there): Django's stock ASGI handler under gunicorn's uvicorn worker, e.g.
#   gunicorn config.asgi:application --worker-class config.workers.UvicornWorker --bind 0.0.0.0:8000
#     --workers 2 --no-control-socket --access-logfile -    (with DATABASE_CONN_MAX_AGE=0)
# and the background worker (mail, deferred account work): python manage.py run_worker --no-reload.
# nginx runs from the official image with deploy/nginx/ghostflow.conf.template.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--no-control-socket", \
     "--access-logfile", "-", "--access-logformat", "%(h)s %(t)s \"%(m)s %(U)s\" %(s)s %(b)s %(L)s"]
