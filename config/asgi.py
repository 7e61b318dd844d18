"""ASGI entry point: Django's stock ASGI handler, for the service that holds live audit streams
(livestream/sse.py), whose bodies wait on the event loop instead of holding a worker.

Production runs two services behind one proxy (README, Deployment): the API on WSGI workers
(config/wsgi.py), and this one, to which the proxy sends `/api/v1/audit-log/stream` only. Django's
ASGI handler runs each request's synchronous middleware and view on a thread of its own, so
persistent database connections are not reused (run this service with DATABASE_CONN_MAX_AGE=0,
Django's advice): cheap for a stream opened once an hour, two to three times the cost of the
WSGI path for an ordinary API request. `make run` serves every path from here, for development.

Around the handler: infra.asgi.BodySizeLimit answers a body over DATA_UPLOAD_MAX_MEMORY_SIZE
with 413 before Django spools it to disk, and uvicorn's access log carries paths without their
query string (infra.asgi.PathOnlyAccessLog): `?token=` is a credential.
"""

import logging
import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

from django.core.cache import caches  # noqa: E402

# Django keeps its cache clients per context under ASGI, and each request starts from a copy of
# the context the server started in: made here, the clients (and their Redis connections) are
# that context's, shared by every request instead of opened per request.
caches.all(initialized_only=False)

from infra.asgi import BodySizeLimit, PathOnlyAccessLog  # noqa: E402  (needs the settings set up)

logging.getLogger("uvicorn.access").addFilter(PathOnlyAccessLog())
# WhiteNoise answers static files with a file iterator, which Django reads on a thread under ASGI
# (and says so on every response): the dashboard's files are a few kilobytes each.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators", category=Warning)
application = BodySizeLimit(django_application)
