"""A TCP relay in front of a real server, for the stream tests: it passes bytes both ways, and the
test can cut every connection open through it (a dropped network) or stall them (a connection that
stays open and carries nothing, as a dead NAT entry does). Nothing is parsed or answered here."""

from __future__ import annotations

import contextlib
import socket
import threading


class _Pair:
    def __init__(self, downstream: socket.socket, upstream: socket.socket) -> None:
        self.downstream, self.upstream = downstream, upstream
        self.stalled = threading.Event()

    def close(self) -> None:
        for sock in (self.downstream, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class Relay:
    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self._pairs: list[_Pair] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> Relay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            pair = _Pair(downstream, upstream)
            with self._lock:
                self._pairs.append(pair)
                self.connections += 1
            threading.Thread(target=self._pump, args=(pair, downstream, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(pair, upstream, downstream), daemon=True).start()

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if pair.stalled.is_set():
                    continue  # swallowed: the other side hears nothing
                sink.sendall(data)
        except OSError:
            pass
        finally:
            pair.close()

    def cut(self) -> None:
        """Close every connection open through the relay, both ways, as a network failure would."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair.close()

    def stall(self) -> None:
        """From now on the connections open through the relay carry nothing (new ones do)."""
        with self._lock:
            for pair in self._pairs:
                pair.stalled.set()
