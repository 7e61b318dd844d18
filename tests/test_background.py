"""Background work on production's queue (django-tasks-db, infra/background.py), worked through in
this process by django-tasks-db's own worker loop, against a real SMTP server: retries with backoff,
lost attempts, pruning, sealed arguments. tests/test_background_worker.py kills a real worker."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from audit.models import Action, AuditEvent
from infra import background
from infra import mail as gf_mail

from .factories import UserFactory
from .smtp import smtp_server

pytestmark = pytest.mark.django_db(transaction=True)  # the worker loop closes connections between tasks


@pytest.fixture
def queue(settings):
    """Production's backend instead of the tests' inline one."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture
def smtp(settings):
    with smtp_server() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 10
        yield server


def work_through_queue() -> None:
    """Every task that is due, then return (the worker's --batch mode), without its signal handlers."""
    Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    ).run()


def rows() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.order_by("enqueued_at"))


def make_due(row: DBTaskResult) -> None:
    """As if its wait were over."""
    DBTaskResult.objects.filter(pk=row.pk).update(run_after=timezone.now())


def test_a_mail_waits_in_the_queue_for_a_worker(queue, smtp):
    gf_mail.send("verify_email", "ada@example.com", username="ada", code="314159")
    assert smtp.messages == []  # nothing runs in the caller
    [row] = rows()
    assert row.status == TaskResultStatus.READY
    work_through_queue()
    [message] = smtp.messages
    assert "314159" in message and "ada@example.com" in message
    row.refresh_from_db()
    assert row.status == TaskResultStatus.SUCCESSFUL


def test_work_queued_in_a_transaction_that_rolls_back_is_not_queued(queue):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        gf_mail.send("verify_email", "ada@example.com", username="ada", code="314159")
        raise RuntimeError("rolled back")
    assert rows() == []


def test_a_refused_send_is_retried_with_backoff_until_the_server_takes_it(queue, smtp, caplog):
    smtp.refuse = 2
    gf_mail.send("verify_email", "ada@example.com", username="ada", code="271828")
    for attempt, delay in enumerate(background.RETRY_DELAYS[:2], start=1):
        before = timezone.now()
        work_through_queue()
        failed, retry = rows()[-2:]
        assert failed.status == TaskResultStatus.FAILED
        assert retry.status == TaskResultStatus.READY
        assert retry.args_kwargs["kwargs"]["attempt"] == attempt + 1
        wait = (retry.run_after - before).total_seconds()
        assert delay - 1 < wait < delay + 5
        assert smtp.messages == []
        make_due(retry)
    work_through_queue()
    [message] = smtp.messages
    assert "271828" in message
    assert [row.status for row in rows()] == ["FAILED", "FAILED", "SUCCESSFUL"]
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries == [
        "Background infra.mail._deliver failed on attempt 1 of 6; retrying in 30 s",
        "Background infra.mail._deliver failed on attempt 2 of 6; retrying in 90 s",
    ]
    assert sum("failed to send" in r.getMessage() for r in caplog.records) == 2


def test_a_send_that_keeps_failing_is_given_up_after_the_last_attempt(queue, smtp, caplog):
    smtp.refuse = 100
    gf_mail.send("verify_email", "ada@example.com", username="ada", code="161803")
    for _ in range(background.MAX_ATTEMPTS):
        DBTaskResult.objects.filter(status=TaskResultStatus.READY).update(run_after=timezone.now())
        work_through_queue()
    assert len(rows()) == background.MAX_ATTEMPTS == 6
    assert all(row.status == TaskResultStatus.FAILED for row in rows())
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    assert smtp.messages == []
    given_up = "Background infra.mail._deliver failed on attempt 6 of 6; giving up"
    assert any(r.levelname == "ERROR" and r.getMessage() == given_up for r in caplog.records)


def test_no_code_token_or_address_is_kept_in_the_task_table_and_the_audit_context_travels(queue, client):
    user = UserFactory(username="quentin", email="quentin@example.com")
    response = client.post(
        "/api/v1/auth/forgot-password",
        {"email": "quentin@example.com"},
        format="json",
        HTTP_X_REQUEST_ID="req-travels-with-the-work",
    )
    assert response.status_code == 202
    work_through_queue()  # the account work, which queues the mail
    work_through_queue()  # the mail
    body = mail.outbox[-1].body
    code = re.search(r"\b(\d{6})\b", body).group(1)
    token = re.search(r"token=(\S+)", body).group(1)
    stored = json.dumps([list(DBTaskResult.objects.values_list())], default=str)
    assert len(rows()) == 2 and all(row.status == TaskResultStatus.SUCCESSFUL for row in rows())
    for secret in (code, token, "quentin@example.com"):
        assert secret not in stored
    event = AuditEvent.objects.get(action=Action.PASSWORD_RESET_REQUESTED)
    assert event.actor_id == user.pk
    assert event.request_id == "req-travels-with-the-work"
    assert (event.path, event.ip) == ("/api/v1/auth/forgot-password", "127.0.0.1")


def test_altered_sealed_arguments_are_refused(queue, smtp):
    gf_mail.send("verify_email", "ada@example.com", username="ada", code="314159")
    [row] = rows()
    sealed = row.args_kwargs["kwargs"]["sealed"]
    row.args_kwargs["kwargs"]["sealed"] = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    row.save(update_fields=["args_kwargs"])
    work_through_queue()
    row.refresh_from_db()
    assert row.status == TaskResultStatus.FAILED
    assert row.exception_class_path == "infra.encryption.Unreadable"
    assert smtp.messages == []


def lose(row: DBTaskResult, seconds_ago: int) -> None:
    """As a worker killed mid-task leaves it: claimed, running, never finished."""
    DBTaskResult.objects.filter(pk=row.pk).update(
        status=TaskResultStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=seconds_ago),
        worker_ids=["a-dead-worker"],
    )


def test_an_attempt_whose_worker_died_is_retried_at_once_after_the_claim_timeout(queue, smtp, settings):
    settings.BACKGROUND_CLAIM_TIMEOUT = 60
    gf_mail.send("verify_email", "ada@example.com", username="ada", code="141421")
    [row] = rows()
    lose(row, seconds_ago=30)
    assert background.recover_lost() == 0  # it may still be running
    lose(row, seconds_ago=61)
    assert background.recover_lost() == 1
    assert background.recover_lost() == 0  # once
    row.refresh_from_db()
    assert row.status == TaskResultStatus.FAILED and row.traceback == background.LOST
    [retry] = DBTaskResult.objects.ready()
    assert retry.args_kwargs["kwargs"]["attempt"] == 2
    work_through_queue()
    [message] = smtp.messages
    assert "141421" in message


def test_work_that_keeps_killing_its_worker_is_given_up(queue, settings, caplog):
    settings.BACKGROUND_CLAIM_TIMEOUT = 60
    gf_mail.send("verify_email", "ada@example.com", username="ada", code="141421")
    for _ in range(background.MAX_ATTEMPTS):
        [row] = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
        lose(row, seconds_ago=61)
        assert background.recover_lost() == 1
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    assert "Background infra.mail._deliver failed on attempt 6 of 6; giving up" in caplog.text


def test_finished_tasks_are_pruned_after_the_retention_period(queue, settings):
    settings.BACKGROUND_RETENTION_DAYS = 7
    for code in ("1", "2", "3", "4"):
        gf_mail.send("verify_email", "ada@example.com", username="ada", code=code)
    old_done, old_failed, recent_done, waiting = rows()
    long_ago = timezone.now() - timedelta(days=8)
    DBTaskResult.objects.filter(pk=old_done.pk).update(status=TaskResultStatus.SUCCESSFUL, finished_at=long_ago)
    DBTaskResult.objects.filter(pk=old_failed.pk).update(status=TaskResultStatus.FAILED, finished_at=long_ago)
    DBTaskResult.objects.filter(pk=recent_done.pk).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=timezone.now() - timedelta(days=6)
    )
    DBTaskResult.objects.filter(pk=waiting.pk).update(enqueued_at=long_ago)
    background.prune_finished()
    assert {row.pk for row in rows()} == {recent_done.pk, waiting.pk}


def test_the_worker_command_refuses_another_backend(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with pytest.raises(CommandError, match="run that backend's worker"):
        call_command("run_worker", reload=False)
