"""The messages of the live audit stream, as Server-Sent Events frames: one place for the wire
format that the stream (livestream/sse.py) and the fan-out (livestream/fanout.py) both write."""

from __future__ import annotations

import json

from rest_framework.renderers import JSONRenderer

from audit.serializers import AuditEventSerializer

CONTENT_TYPE = "text/event-stream"


def event_frame(event) -> bytes:
    """One SSE message: the event exactly as the listing serialises it (JSON has no raw newline)."""
    data = JSONRenderer().render(AuditEventSerializer(event).data)
    return b"id: " + str(event.id).encode() + b"\ndata: " + data + b"\n\n"


def named(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def revoked_frame(reason: str) -> bytes:
    return b'event: revoked\ndata: {"reason": "' + reason.encode() + b'"}\n\n'


def end_frame(reason: str) -> bytes:
    """A stream the server ends for its own reasons: the client reconnects with Last-Event-ID."""
    return b'event: end\ndata: {"reason": "' + reason.encode() + b'"}\n\n'


def gap_frame() -> bytes:
    return named(
        "gap",
        {"detail": "Events older than the replay window were not replayed; read them from the audit log listing."},
    )
