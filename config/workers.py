"""The ASGI worker production runs under gunicorn (Dockerfile, docker-compose.yml, CI).

One rule decides the client's address on every server: `TRUSTED_PROXY_COUNT`, applied by
`infra.net.client_ip`. uvicorn would apply a second one before Django sees the request: its
`proxy_headers` option is on by default and rewrites the peer address from `X-Forwarded-For` for
connections from `forwarded_allow_ips` (127.0.0.1 unless told otherwise), so with a local proxy,
or a client on the same host, a spoofed header became REMOTE_ADDR. Here uvicorn leaves the peer
address alone and the scheme too (`SECURE_PROXY_SSL_HEADER` decides that, from the same setting).

`CONFIG_KWARGS` is the documented way to configure uvicorn under this worker (uvicorn-worker's
README); the uvicorn command line takes `--no-proxy-headers` for the same (Makefile, tests).
"""

from uvicorn_worker import UvicornWorker as _Base


class UvicornWorker(_Base):
    CONFIG_KWARGS = {**_Base.CONFIG_KWARGS, "proxy_headers": False}
