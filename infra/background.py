"""Work that runs after the answer, off the request thread: mail, and the account work of the
endpoints that must answer alike whether or not an address has an account (forgot-password,
resend-verification: doing their look-up, code and audit row before answering made the
existing-account answer measurably slower; the request only queues it, so both answers do the
same work). It starts once the current transaction commits; with EMAIL_SEND_INLINE (tests) it
runs at once instead. The request's audit context goes with it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections, transaction

from infra import request_context

logger = logging.getLogger("ghostflow.background")
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="background")


# The worker waits this long before starting, so its work does not compete for the interpreter
# with the answer that queued it (which would make that answer measurably slower again).
START_DELAY_SECONDS = 0.05


def _run(work: Callable[..., None], kwargs: dict, context) -> None:
    try:
        time.sleep(START_DELAY_SECONDS)
        with request_context.use(context):  # audit events keep the request's ip, path, id
            work(**kwargs)
    except Exception:
        # Never the arguments: they hold an address.
        logger.exception("Background %s failed", work.__name__)
    finally:
        connections.close_all()  # this thread's connections only


def run_later(work: Callable[..., None], /, **kwargs) -> None:
    """Run `work(**kwargs)` after the current transaction commits, on a worker thread."""
    if settings.EMAIL_SEND_INLINE:
        work(**kwargs)
        return
    context = request_context.snapshot()
    transaction.on_commit(lambda: _executor.submit(_run, work, kwargs, context))
