"""The health check of the app's containers (docker-compose.yml), from inside the container:

    python -m infra.probe http://127.0.0.1:8000/readyz    # exit 0 when the server answers 200

It asks with a Host header that ALLOWED_HOSTS accepts (probe_host). Asked as `127.0.0.1:8000`, a
server whose deployer allowed `api.example.com` answers 400 (Django's host check), and the
container would stay unhealthy for good; the probes are not exempt from that check, they pass it.

Reads ALLOWED_HOSTS from the settings, as the server does (the container's environment), without
setting Django up (no app is loaded): it runs every few seconds.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from django.conf import settings

DEFAULT_URL = "http://127.0.0.1:8000/readyz"
TIMEOUT_SECONDS = 2.5  # within the healthcheck's timeout (3 s)


def probe_host(allowed_hosts: list[str]) -> str:
    """A Host that `allowed_hosts` accepts: its first entry that names one (a leading dot, which
    allows a domain and its subdomains, dropped), or `localhost` when it has only `*`."""
    for entry in allowed_hosts:
        host = entry.lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main(argv: list[str]) -> int:
    url = argv[0] if argv else DEFAULT_URL
    # The URL is the health check's own command line (docker-compose.yml), never a client's.
    request = urllib.request.Request(url, headers={"Host": probe_host(settings.ALLOWED_HOSTS)})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            status = answer.status
    except urllib.error.HTTPError as refused:
        status = refused.code
    except OSError as error:
        print(f"probe: {url}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"probe: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
