"""A plain EventSource on the live stream with `?token=`, as a browser uses it (seed 000): it
reconnects by itself to the same URL with Last-Event-ID when the server ends a stream or the
network drops, and must neither lose nor repeat an event. Here with the npm `eventsource` package
(node; `npm ci` installs it from package-lock.json); Chromium's own EventSource is in
tests/browser/test_audit_stream_reconnect.py. Both go through a TCP proxy that can cut every
connection at once, as a dropped network does."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from audit.models import Action
from audit.services import record_event

from .factories import access_token
from .test_audit_stream_live import ASGIServer, free_port

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")
HAVE_NPM_CLIENT = NODE is not None and (ROOT / "node_modules" / "eventsource" / "package.json").exists()
STREAM = "/api/v1/audit-log/stream"

pytestmark = pytest.mark.django_db(transaction=True)


class DroppingProxy:
    """A TCP proxy on 127.0.0.1 in front of `target`; `drop()` cuts every open connection (both
    ends), as a network that goes away does, and new connections are served as before."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                self._close(end)

    def _close(self, end: socket.socket):
        with self.lock:
            self.sockets.discard(end)
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)
        end.close()

    def drop(self) -> int:
        with self.lock:
            cut = list(self.sockets)
        for end in cut:
            self._close(end)
        return len(cut)

    def close(self):
        self.closed = True
        self.listener.close()
        self.drop()


@pytest.fixture
def reconnecting_server(transactional_db, settings):
    yield from serve_behind_proxy(settings)


def serve_behind_proxy(settings):
    """The ASGI server ending every stream after 2 s (`end`, max_duration), behind a proxy."""
    settings.AUDIT_STREAM_MAX_SECONDS = 2
    settings.AUDIT_STREAM_POLL_SECONDS = 0.5
    settings.AUDIT_STREAM_RECHECK_SECONDS = 0.5
    with ASGIServer() as server:
        proxy = DroppingProxy(server.port)
        yield server, proxy
        proxy.close()


def stream_url(server, proxy, user, team) -> str:
    response = httpx.post(
        f"{server.url}/api/v1/audit-log/stream-token",
        headers={"Authorization": f"Bearer {access_token(user)}", "X-Team-Id": str(team.pk)},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return f"{proxy.url}{STREAM}?token={response.json()['token']}&action=team.updated"


def write_events(team, count: int, every: float = 0.25) -> list[str]:
    written = []
    for _ in range(count):
        written.append(str(record_event(action=Action.TEAM_UPDATED, team_id=team.pk).id))
        time.sleep(every)
    return written


def run_the_scenario(proxy, team, opens, received) -> list[str]:
    """Events written while the client streams, while the server ends its streams (every 2 s) and
    across a dropped connection; returns the ids written. `opens()`: how many times the client
    has connected so far; `received()`: the event ids it has received so far, in order."""
    wait_until(lambda: opens() >= 1, "the client never connected")
    written = write_events(team, 8)  # across at least one server-initiated end
    wait_until(lambda: len(received()) >= 6, "events did not arrive")
    before = opens()
    wait_until(lambda: opens() > before, "the client did not reconnect after the server ended its stream", 10)
    time.sleep(0.5)
    assert proxy.drop() > 0, "no connection to drop"
    written += write_events(team, 8)  # some while the client is cut off, reconnecting
    wait_until(lambda: opens() > before + 1, "the client did not reconnect after the drop", 10)
    written += write_events(team, 8)
    wait_until(lambda: len(received()) >= len(written), f"events lost: {len(received())} of {len(written)}", 15)
    time.sleep(2.5)  # one more end and reconnect: still nothing repeated
    return written


def wait_until(condition, message: str, seconds: float = 8) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


@pytest.fixture
def npm_client():
    if not HAVE_NPM_CLIENT:
        reason = "the npm `eventsource` client is not installed (npm ci)"
        if os.environ.get("REQUIRE_NPM_CLIENTS") == "1":
            pytest.fail(reason + " but REQUIRE_NPM_CLIENTS=1")
        pytest.skip(reason)
    processes = []

    def start(url: str, seconds: float):
        process = subprocess.Popen(
            [NODE, str(ROOT / "tests" / "clients" / "eventsource.mjs"), url, str(seconds)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(json.loads(line)) for line in process.stdout], daemon=True).start()
        return process, lines

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(5)


def test_the_npm_eventsource_loses_and_repeats_nothing_across_server_ends_and_a_dropped_connection(
    reconnecting_server, npm_client, owner, team
):
    server, proxy = reconnecting_server
    process, lines = npm_client(stream_url(server, proxy, owner, team), 40)
    seen: list[dict] = []

    def drain():
        while True:
            try:
                seen.append(lines.get_nowait())
            except queue.Empty:
                return seen

    def opens():
        return sum(1 for line in drain() if "open" in line)

    def received():
        return [line["event"] for line in drain() if "event" in line]

    written = run_the_scenario(proxy, team, opens, received)
    got = received()
    assert process.poll() is None, (process.returncode, process.stderr.read(), seen)  # it never gave up
    assert len(got) == len(set(got)), "an event was delivered twice"
    assert got == written
    ends = [line["end"] for line in seen if "end" in line]
    assert "max_duration" in ends and any("error" in line for line in seen), seen
