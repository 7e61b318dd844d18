"""The background worker (infra/background.py): django-tasks-db's `db_worker` on the project's
queue, with its housekeeping in a thread beside it: every minute (BACKGROUND_HOUSEKEEPING_SECONDS),
attempts whose worker died are retried (background.recover_lost); every hour, finished tasks
older than BACKGROUND_RETENTION_DAYS are deleted (background.prune_finished); and the apps'
periodic jobs run when due (background.PERIODIC, e.g. the API keys' expiry reminders). Any number of workers may run
on one database; each does its own housekeeping, which is safe to repeat.

    python manage.py run_worker [--interval 1] [--reload | --no-reload]

SIGTERM or Ctrl-C stops it once the running task is done (a second one at once).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from argparse import BooleanOptionalAction

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks import task_backends
from django_tasks_db import DatabaseBackend

from infra import background

logger = logging.getLogger("ghostflow.background")

PRUNE_SECONDS = 3600


def housekeeping() -> None:
    last_prune = -math.inf
    last_run: dict[str, float] = {}
    interval = settings.BACKGROUND_HOUSEKEEPING_SECONDS
    while True:
        try:
            background.recover_lost()
            if time.monotonic() - last_prune >= PRUNE_SECONDS:
                background.prune_finished()
                last_prune = time.monotonic()
        except Exception:
            logger.exception("Background housekeeping failed; trying again in %d s", interval)
        for name, (every, job) in list(background.PERIODIC.items()):
            if time.monotonic() - last_run.get(name, -math.inf) < every:
                continue
            last_run[name] = time.monotonic()
            try:
                job()
            except Exception:
                logger.exception("Periodic job %s failed; it runs again in %d s", name, every)
        connections.close_all()  # this thread's connections only
        time.sleep(interval)


class Command(BaseCommand):
    help = "Run the background worker (mail, deferred account work): django-tasks-db's db_worker plus housekeeping."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between looks at an empty queue")
        parser.add_argument(
            "--reload",
            action=BooleanOptionalAction,
            default=settings.DEBUG,
            help="restart when a Python file changes (default: DEBUG)",
        )

    def handle(self, *args, interval, reload, verbosity, **options):
        if not isinstance(task_backends["default"], DatabaseBackend):
            raise CommandError(
                f"TASKS_BACKEND is {settings.TASKS_BACKEND}: run that backend's worker instead "
                "(README, Background work)."
            )
        # With --reload this process only watches the files and runs the worker in a child process
        # it restarts on a change (Django's autoreloader, which marks the child): the housekeeping
        # runs there.
        if not reload or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
            threading.Thread(target=housekeeping, name="background-housekeeping", daemon=True).start()
        call_command("db_worker", interval=interval, reload=reload, startup_delay=False, verbosity=verbosity)
