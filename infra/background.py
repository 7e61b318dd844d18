"""Work that runs after the answer, in a worker process: mail, and the account work of the
endpoints that must answer alike whether or not an address has an account (forgot-password,
resend-verification: doing their look-up, code and audit row before answering made the
existing-account answer measurably slower; the request only queues it, so both answers do the
same work).

`run_later(work, **kwargs)` queues `work(**kwargs)` through django-tasks (Django 6.0's django.tasks,
backported) on the TASKS backend: by default django-tasks-db's table in the app's own database,
worked through by `manage.py run_worker`. It is durable: work queued while no worker runs, or
whose worker is restarted or killed, is done by the next one.

- It is queued once the current transaction commits (nothing for one that rolls back). The tests'
  backend (ImmediateBackend, config/test_settings.py) runs it at once instead, in the caller.
- The work is a module-level function registered with `@background.work` (the worker calls only
  registered work, by name; apps import their work's modules in AppConfig.ready); its arguments
  must be JSON. They travel with the request's
  audit context (request id, IP, path) sealed: encrypted under SECRETS_ENCRYPTION_KEYS
  (infra/encryption.py), as the task table keeps a task's arguments in plain text and a mail's
  hold its code or reset token.
- A failed attempt is retried after RETRY_DELAYS, then given up (logged as an error). A backend
  that cannot defer work (the tests' one) gets one attempt.
- An attempt still marked running after BACKGROUND_CLAIM_TIMEOUT lost its worker (killed, or its
  machine gone): `recover_lost` (the worker's housekeeping, every minute) counts it as a failed
  attempt and queues the next one at once. django-tasks-db leaves such a row running for ever
  (its issue #5); this is the lease its maintainer suggests there. So delivery is at least once:
  a worker that dies after the SMTP server took a mail, before the row was marked done, sends
  it again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks import task
from django_tasks.backends.immediate import ImmediateBackend

from . import encryption, request_context

logger = logging.getLogger("ghostflow.background")

# Seconds before attempt 2, 3, ...: tripled each time, 6 attempts over about an hour (an SMTP
# server down for maintenance, a provider's rate limit), then the work is given up.
RETRY_DELAYS = (30, 90, 270, 810, 2430)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
LOST = "The worker running this attempt stopped before it finished."


# The work run_later may queue, by name. A name comes back from the queue, so the worker looks it
# up here rather than importing whatever it names; each app registers its work where it is defined.
WORK: dict[str, Callable[..., None]] = {}


def work(function: Callable[..., None]) -> Callable[..., None]:
    """Register `function` as work run_later may queue (a decorator)."""
    WORK[f"{function.__module__}.{function.__qualname__}"] = function
    return function


# Periodic jobs the worker's housekeeping runs (infra/management/commands/run_worker.py), by name:
# (every how many seconds, the job). Apps register theirs in their AppConfig.ready; each job must be
# safe to run on several workers at once and to repeat (it claims what it does with a conditional
# UPDATE, as apikeys.maintenance does).
PERIODIC: dict[str, tuple[int, Callable[[], object]]] = {}


def periodic(seconds: int) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Register a job the worker runs every `seconds` (a decorator)."""

    def register(function: Callable[[], object]) -> Callable[[], object]:
        PERIODIC[f"{function.__module__}.{function.__qualname__}"] = (seconds, function)
        return function

    return register


class AttemptFailed(Exception):
    """What a failed attempt's row records instead of the work's exception, whose text may hold
    an address or a server's answer; the log has the traceback."""


def run_later(work: Callable[..., None], /, **kwargs) -> None:
    """Run `work(**kwargs)` in a worker, after the current transaction commits."""
    name = f"{work.__module__}.{work.__qualname__}"
    if WORK.get(name) is not work:
        raise ImproperlyConfigured(f"{name} is not registered background work (@background.work).")
    payload = {
        "work": name,
        "kwargs": kwargs,
        "context": request_context.snapshot(),  # audit events keep the request's ip, path, id
    }
    sealed = encryption.encrypt(json.dumps(payload))
    if isinstance(run.get_backend(), ImmediateBackend):
        run.enqueue(sealed=sealed, attempt=1)
    else:
        transaction.on_commit(lambda: run.enqueue(sealed=sealed, attempt=1))


@task()
def run(*, sealed: str, attempt: int) -> None:
    """One attempt at a queued piece of work (the only task of the project's queue)."""
    payload = json.loads(encryption.decrypt(sealed))
    name = payload["work"]
    try:
        with request_context.use(request_context.from_snapshot(payload["context"])):
            WORK[name](**payload["kwargs"])
    except Exception:
        # Never the arguments in the log: they hold an address, maybe a code.
        _after_failure(name=name, sealed=sealed, attempt=attempt, exc_info=True)
        raise AttemptFailed(f"{name} failed on attempt {attempt} (see the log)") from None


def _after_failure(*, name: str, sealed: str, attempt: int, exc_info: bool, delay: int | None = None) -> None:
    """Queue the next attempt (after `delay` seconds, by default the schedule's), or give up."""
    retries = run.get_backend().supports_defer
    if not retries or attempt >= MAX_ATTEMPTS:
        logger.error(
            "Background %s failed on attempt %d of %d; giving up",
            name,
            attempt,
            MAX_ATTEMPTS if retries else 1,
            exc_info=exc_info,
        )
        return
    delay = RETRY_DELAYS[attempt - 1] if delay is None else delay
    logger.warning(
        "Background %s failed on attempt %d of %d; retrying in %d s",
        name,
        attempt,
        MAX_ATTEMPTS,
        delay,
        exc_info=exc_info,
    )
    run.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(sealed=sealed, attempt=attempt + 1)


def recover_lost() -> int:
    """Attempts claimed longer than BACKGROUND_CLAIM_TIMEOUT ago and still running (their worker
    died): each is marked failed and its next attempt queued now, or the work given up after
    MAX_ATTEMPTS (work that kills its worker every time stops there). Returns how many."""
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - timedelta(seconds=settings.BACKGROUND_CLAIM_TIMEOUT)
    lost = DBTaskResult.objects.running().filter(task_path=run.module_path, started_at__lt=cutoff)
    recovered = 0
    for row in lost:
        with transaction.atomic():
            # Only if still lost: another worker's housekeeping may have got there first.
            marked = DBTaskResult.objects.filter(pk=row.pk, status=TaskResultStatus.RUNNING).update(
                status=TaskResultStatus.FAILED,
                finished_at=timezone.now(),
                exception_class_path=f"{__name__}.AttemptFailed",
                traceback=LOST,
            )
            if marked:
                kwargs = row.args_kwargs["kwargs"]
                name = json.loads(encryption.decrypt(kwargs["sealed"]))["work"]
                logger.warning("Background %s: %s", name, LOST)
                _after_failure(name=name, sealed=kwargs["sealed"], attempt=kwargs["attempt"], exc_info=False, delay=0)
                recovered += 1
    return recovered


def prune_finished() -> None:
    """Delete finished tasks (done, failed or given up) older than BACKGROUND_RETENTION_DAYS:
    django-tasks-db's own command."""
    call_command("prune_db_task_results", min_age_days=settings.BACKGROUND_RETENTION_DAYS, queue_name="*", verbosity=0)
