"""A real SMTP server on a free loopback port (aiosmtpd, in a thread of the test process), which
can refuse mail for a while or hold a delivery open: what the background worker's tests send to."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiosmtpd.controller import Controller

from .servers import free_port

TRY_LATER = "451 4.3.0 Try again later"


class Mailbox:
    """aiosmtpd's handler: keeps what it accepts, as text."""

    def __init__(self) -> None:
        self.port = 0
        self.messages: list[str] = []
        self.refuse = 0  # how many deliveries to refuse (a temporary failure) before accepting
        self.hold = False  # hold the next delivery open until `release` is set, then refuse it
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.hold:
            self.hold = False
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return TRY_LATER
        if self.refuse > 0:
            self.refuse -= 1
            return TRY_LATER
        self.messages.append(envelope.content.decode("utf-8", errors="replace"))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        mailbox.release.set()
        controller.stop()
