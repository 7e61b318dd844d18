"""Mail survives its worker: queued work is done by the next worker process, even when the one that
had claimed it was killed (SIGKILL) in the middle of the SMTP conversation."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest
import yaml
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from infra import mail

from .servers import ROOT, environment
from .smtp import smtp_server

CLAIM_TIMEOUT = 1


@pytest.fixture
def queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def start_worker(settings, smtp):
    env = environment(settings, EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}", BACKGROUND_CLAIM_TIMEOUT=str(CLAIM_TIMEOUT))
    workers = []

    def start() -> subprocess.Popen:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--interval", "0.1", "--no-reload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_mail_queued_while_no_worker_runs_is_sent_by_the_next_one(queue, smtp, start_worker):
    first = start_worker()
    time.sleep(1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    mail.send("verify_email", "ada@example.com", username="ada", code="577215")
    start_worker()
    assert wait_for(lambda: smtp.messages), "the mail did not arrive"
    [message] = smtp.messages
    assert "577215" in message


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_mail_whose_worker_is_killed_mid_send_is_sent_by_the_next_worker(queue, smtp, start_worker):
    smtp.hold = True  # the first delivery stays open until released
    mail.send("verify_email", "ada@example.com", username="ada", code="662607")
    first = start_worker()
    assert smtp.holding.wait(timeout=30), "the worker did not start sending"
    first.send_signal(signal.SIGKILL)
    first.wait()
    smtp.release.set()  # the held delivery ends, refused, on a connection nobody reads any more
    [lost] = DBTaskResult.objects.all()
    assert lost.status == TaskResultStatus.RUNNING  # left claimed by the dead worker
    time.sleep(CLAIM_TIMEOUT + 0.5)
    start_worker()
    assert wait_for(lambda: smtp.messages), "the mail did not arrive"
    [message] = smtp.messages
    assert "662607" in message
    assert wait_for(lambda: DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).exists())
    lost.refresh_from_db()
    assert lost.status == TaskResultStatus.FAILED
    assert [row.args_kwargs["kwargs"]["attempt"] for row in DBTaskResult.objects.order_by("enqueued_at")] == [1, 2]


def test_every_stack_that_serves_the_app_starts_the_worker():
    """make run and make demo-flows (scripts/dev_server.py), the split stack (CI, make run-split)
    and docker compose each run `manage.py run_worker` beside the app servers."""
    from scripts import split_stack

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    worker = services["worker"]
    assert worker["command"] == ["django-admin", "run_worker", "--no-reload"]  # the image has no manage.py
    assert worker["image"] == services["api"]["image"]
    assert worker["environment"] == services["api"]["environment"]
    assert split_stack.worker_command()[1:3] == ["manage.py", "run_worker"] and "worker" in split_stack.SERVICES
    make_run = re.search(r"^run:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.S | re.M).group(0)
    assert "scripts/dev_server.py --reload --" in make_run
    assert "scripts/dev_server.py --" in (ROOT / "scripts" / "demo_flows.sh").read_text()
