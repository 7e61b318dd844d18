"""Account work that runs after the answer, off the request thread.

Some endpoints must answer the same whether or not an address has an account (forgot-password,
resend-verification). Doing the account work (look-up, new code, audit row, mail) before answering
made the existing-account answer measurably slower; here the request only queues it, so both
answers do the same work. With EMAIL_SEND_INLINE (tests), the work runs at once instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections, transaction

from infra import request_context

logger = logging.getLogger("ghostflow.deferred")
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="account-work")


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
        logger.exception("Deferred %s failed", work.__name__)
    finally:
        connections.close_all()  # this thread's connections only


def run_later(work: Callable[..., None], /, **kwargs) -> None:
    """Run `work(**kwargs)` after the current transaction commits, on a worker thread."""
    if settings.EMAIL_SEND_INLINE:
        work(**kwargs)
        return
    context = request_context.snapshot()
    transaction.on_commit(lambda: _executor.submit(_run, work, kwargs, context))
