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
# ASGI (uvicorn workers under gunicorn): a live audit stream waits on the event loop instead of
# holding a worker. Query strings stay out of the access log (config/asgi.py): a key wrongly put
# in a URL is refused, never logged, and a stream token is never logged either.
CMD ["gunicorn", "config.asgi:application", "--worker-class", "config.workers.UvicornWorker", \
     "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
