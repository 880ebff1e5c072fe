"""Split intake on Celery: receivers store the raw message and enqueue its id, workers process it.

Install the extra: ``pip install 'inboxcore[celery]'``. A host registers the task on its own
Celery app with :func:`register_tasks`, giving it a way to get the inbox service (its one
composition root); receivers then answer with :meth:`InboxTasks.store_and_enqueue`, workers on
any number of machines run ``inboxcore.process_raw`` against the shared database.

Why the task is safe to run more than once: it calls
:meth:`~inboxcore.app.service.InboxService.process_raw`, which runs a raw id at most once however
often it is delivered (``acks_late`` redelivers a task whose worker died mid-run). Temporary
trouble (storage failing, DNS down: a deferral, or a
:class:`~inboxcore.domain.errors.StorageError`) is retried with exponential backoff; after the
last retry the message is quarantined with the reason ``retries_exhausted``, held mail a person
can reprocess, never dropped.

Run as a program (``python -m inboxcore.contrib.celery``): ``serve`` an LMTP receiver in
enqueue mode, ``recover`` (re-enqueue what was stored but never recorded), and the worker is
``celery -A inboxcore.contrib.celery.worker_app worker``, configured from the environment
(:func:`inbox_from_environment`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import attrs
from celery import Celery, Task  # type: ignore[import-untyped]  # celery ships no types

from inboxcore.app.delivery import Delivery
from inboxcore.app.service import AlreadyRecorded, InboxService, Stored
from inboxcore.domain.errors import NotFoundError, StorageError
from inboxcore.domain.ids import RawMessageId
from inboxcore.domain.model import Envelope
from inboxcore.domain.outcomes import Disposition, Reason, Reply

__all__ = [
    "InboxTasks",
    "PROCESS_RAW",
    "RetryPolicy",
    "inbox_from_environment",
    "main",
    "register_tasks",
    "run_task",
    "worker_app",
]

log = logging.getLogger(__name__)

PROCESS_RAW = "inboxcore.process_raw"
"""The task's name: what receivers enqueue and workers run."""


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long apart a temporarily failing message is tried again."""

    max_retries: int = 8
    """Retries after the first run; then the message is quarantined."""
    first_delay: float = 10.0
    """Seconds before the first retry; each next one waits twice as long."""
    max_delay: float = 3600.0

    def countdown(self, retries: int) -> float:
        """Seconds to wait before retry number ``retries + 1``."""
        return float(min(self.max_delay, self.first_delay * 2**retries))


@attrs.frozen
class InboxTasks:
    """The registered task, and what receivers call to hand a message over."""

    process_raw: Task

    def enqueue(self, raw_id: RawMessageId) -> None:
        """Queue ``raw_id`` for a worker; raises whatever the broker's client raises."""
        self.process_raw.apply_async(args=(str(raw_id),))

    def store_and_enqueue(self, inbox: InboxService, data: bytes, envelope: Envelope) -> Stored:
        """Store a received message and queue it: 250 only once both succeeded, else the
        temporary reply (the sender retries; a message stored but not queued is found by the
        ``recover`` sweep or stored again by the retry, which queues it then)."""
        stored = inbox.store(data, envelope)
        if stored.raw_id is None:
            return stored
        try:
            self.enqueue(stored.raw_id)
        except Exception as exc:  # any broker failure: nothing was acknowledged
            log.warning("could not enqueue raw message %s (%s); answering 451", stored.raw_id, exc)
            reason = Reason(
                code="queue_unavailable",
                message=f"The task queue refused the message ({type(exc).__name__}); it is "
                "stored, nothing was acknowledged.",
            )
            return Stored(raw_id=stored.raw_id, smtp=Reply.STORAGE_DOWN.value, reasons=(reason,))
        return stored


def register_tasks(
    app: Celery,
    get_inbox: Callable[[], InboxService],
    *,
    retry: RetryPolicy = RetryPolicy(),
) -> InboxTasks:
    """Register ``inboxcore.process_raw(raw_id)`` on ``app``: acknowledged only once it ran
    (``acks_late``, and ``reject_on_worker_lost`` so that a killed worker's task is delivered
    again), retried as ``retry`` says. ``get_inbox`` is called in the worker for each task."""

    @app.task(  # type: ignore[untyped-decorator]
        name=PROCESS_RAW,
        shared=False,  # each app its own: a host may run several inboxes
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=retry.max_retries,
    )
    def process_raw(task: Task, raw_id: str) -> str:
        return run_task(task, get_inbox(), RawMessageId(raw_id), retry)

    return InboxTasks(process_raw)


def run_task(task: Task, inbox: InboxService, raw_id: RawMessageId, retry: RetryPolicy) -> str:
    """One run of the task: process, retry while temporary, quarantine once retries are spent.
    While retries remain, a DNS failure defers (and retries) rather than quarantining; the last
    try quarantines it for a recheck. Returns the disposition's value (the task's result)."""
    tries = task.request.retries
    try:
        outcome = inbox.process_raw(raw_id, retry_later=tries < retry.max_retries)
    except NotFoundError:
        log.error("raw message %s is not stored: nothing to process", raw_id)
        return "not_found"
    except StorageError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    else:
        if not _temporary(outcome):
            return outcome.disposition.value
        problem = ",".join(outcome.reason_codes)
    if tries < retry.max_retries:
        log.info("raw message %s failed for now (%s); retry %d", raw_id, problem, tries + 1)
        raise task.retry(countdown=retry.countdown(tries), max_retries=retry.max_retries)
    reason = Reason(
        code="retries_exhausted",
        message=f"Still failing after {tries + 1} tries ({problem}); kept for a person to "
        "reprocess or release.",
    )
    held = inbox.hold_unprocessed(raw_id, reason)  # a StorageError here: the sweep finds it
    return held.disposition.value


def _temporary(outcome: Delivery | AlreadyRecorded) -> bool:
    if isinstance(outcome, AlreadyRecorded):
        return False
    return outcome.disposition is Disposition.DEFERRED or outcome.smtp.is_temporary_failure


# --- the runnable worker, receiver and sweep, configured from the environment --------------


def inbox_from_environment(environ: dict[str, str] | None = None) -> InboxService:
    """An inbox built with :func:`~inboxcore.bootstrap.build_inbox` from the environment:
    ``INBOXCORE_DATABASE`` (a database URL), ``INBOXCORE_RAW_DIR`` (the shared raw store
    folder), ``INBOXCORE_CONVERSATION_KEY`` and ``INBOXCORE_MESSAGE_ID_DOMAIN`` (as the
    receivers use), ``INBOXCORE_DNS`` (``system``, the default, or ``none``: offline). Its
    directory has no agents: a host with agents registers the task with its own
    ``get_inbox``."""
    from inboxcore.app.config import InboxConfig
    from inboxcore.bootstrap import build_inbox

    env = os.environ if environ is None else environ
    config = InboxConfig(
        conversation_keys=(env["INBOXCORE_CONVERSATION_KEY"],),
        message_id_domain=env["INBOXCORE_MESSAGE_ID_DOMAIN"],
    )
    return build_inbox(
        config=config,
        storage=env["INBOXCORE_DATABASE"],
        raw_store=env["INBOXCORE_RAW_DIR"],
        directory=_NoAgents(),
        dns=None if env.get("INBOXCORE_DNS") == "none" else "system",
    )


class _NoAgents:
    """A directory without users or teams: conversations stay unassigned."""

    def user(self, user_id: Any) -> None:
        return None

    def user_by_email(self, account_id: Any, email_key: str) -> None:
        return None

    def users(self, account_id: Any) -> tuple[()]:
        return ()

    def team(self, team_id: Any) -> None:
        return None

    def is_available(self, user_id: Any) -> bool:
        return False


_inbox: InboxService | None = None


def _environment_inbox() -> InboxService:
    """The worker process's one inbox, built on first use (after the fork)."""
    global _inbox
    if _inbox is None:
        _inbox = inbox_from_environment()
    return _inbox


worker_app = Celery("inboxcore", broker=os.environ.get("INBOXCORE_BROKER"))
"""The app ``celery -A inboxcore.contrib.celery.worker_app worker`` runs; the broker from
``INBOXCORE_BROKER``, retries from ``INBOXCORE_MAX_RETRIES`` and ``INBOXCORE_RETRY_DELAY``, and
Redis's ``visibility_timeout`` (seconds before a task a dead worker held is delivered again)
from ``INBOXCORE_VISIBILITY_TIMEOUT`` (an hour by default: longer than any task runs)."""
worker_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    broker_transport_options={
        "visibility_timeout": float(os.environ.get("INBOXCORE_VISIBILITY_TIMEOUT", "3600"))
    },
)
worker_tasks = register_tasks(
    worker_app,
    _environment_inbox,
    retry=RetryPolicy(
        max_retries=int(os.environ.get("INBOXCORE_MAX_RETRIES", "8")),
        first_delay=float(os.environ.get("INBOXCORE_RETRY_DELAY", "10")),
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    """``serve --lmtp HOST:PORT`` or ``recover``, each with ``--database``, ``--raw-dir`` and
    ``--broker`` (the rest of the environment as :func:`inbox_from_environment` reads it)."""
    args = _parser().parse_args(argv)
    os.environ.update(INBOXCORE_DATABASE=args.database, INBOXCORE_RAW_DIR=args.raw_dir)
    worker_app.conf.update(broker_url=args.broker, task_default_queue=args.queue)
    inbox = inbox_from_environment()
    if args.command == "recover":
        recovery = inbox.recover(
            older_than=timedelta(seconds=args.older_than), handoff=worker_tasks.enqueue
        )
        print(f"re-enqueued {len(recovery.messages)} of {recovery.examined} stored messages")
        return 0
    from inboxcore.entrypoints.receiver import ListenAddress, Receiver, ReceiverProtocol

    listener = ListenAddress.parse(ReceiverProtocol.LMTP, args.lmtp)
    receiver = Receiver(
        inbox, [listener], accept=lambda data, env: worker_tasks.store_and_enqueue(inbox, data, env)
    )
    receiver.run(
        lambda bound: print(
            f"listening lmtp {bound[0].host} {bound[0].port}", file=sys.stderr, flush=True
        )
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inboxcore.contrib.celery")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="an LMTP receiver that stores and enqueues")
    serve.add_argument("--lmtp", required=True, metavar="HOST:PORT")
    recover = commands.add_parser("recover", help="re-enqueue what no intake record lists")
    recover.add_argument("--older-than", type=float, default=900.0, metavar="SECONDS")
    for command in (serve, recover):
        command.add_argument("--database", required=True, metavar="URL")
        command.add_argument("--raw-dir", required=True, metavar="DIR")
        command.add_argument("--broker", required=True, metavar="URL")
        command.add_argument("--queue", default="celery", help="the workers' queue (-Q)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
