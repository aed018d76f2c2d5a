"""Scale-out: Celery workers on a Redis broker, with the job table (PostgreSQL) as truth.

A Celery message only says "job X may be ready"; the job table decides. A worker claims
the job with a conditional UPDATE (exactly one claimant wins), heart-beats while it runs,
and records the outcome only if it still holds the job. Messages are acknowledged late
(after the task returns) and rejected when the worker is lost, so a killed worker's job is
redelivered; in addition every worker and the API server run a *reaper* that re-queues
running jobs whose heartbeat is older than ``job_lease_s`` and sends them again. Duplicate
messages are harmless: their claim finds the job no longer queued.

Sending is recorded in an outbox column (``jobs.dispatched_at``): a job committed but never
sent (the process died in between) is sent by the reaper after ``dispatch_grace_s``, and a
queued job whose message was sent long ago (it may be lost) is sent again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from functools import lru_cache

from reelsmith.config import get_settings
from reelsmith.jobs.periodic import every
from reelsmith.jobs.store import JobStore

log = logging.getLogger(__name__)
QUEUE = "reelsmith"


@lru_cache(maxsize=1)
def get_app():  # noqa: ANN201 - celery.Celery, imported lazily
    from celery import Celery

    s = get_settings()
    app = Celery("reelsmith", broker=s.broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            # Unacked messages of a dead worker come back after this long; the reaper
            # usually re-sends the job sooner.
            "visibility_timeout": max(60, int(s.job_lease_s * 4)),
            "queue_order_strategy": "priority",
            "priority_steps": list(range(10)),
        },
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    app.task(name="reelsmith.run_job", bind=True, acks_late=True,
             reject_on_worker_lost=True)(_run_job_task)
    return app


def _celery_priority(priority: int) -> int:
    """Our -100..100 (higher first) -> Redis transport 0..9 (lower first)."""
    p = max(-100, min(100, int(priority)))
    return 9 - round((p + 100) * 9 / 200)


def enqueue(job_id: str, priority: int = 0) -> None:
    get_app().send_task("reelsmith.run_job", args=[job_id], queue=QUEUE,
                        priority=_celery_priority(priority))


_store_lock = threading.Lock()
_store: JobStore | None = None


def _get_store() -> JobStore:
    global _store
    with _store_lock:
        if _store is None:
            _store = JobStore()
        return _store


def _worker_id() -> str:
    return f"celery-{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"


def _run_job_task(task, job_id: str) -> str | None:  # noqa: ANN001 - celery Task
    from reelsmith.jobs.execute import execute_job

    store = _get_store()
    worker_id = _worker_id()
    job = store.claim(job_id, worker_id)
    if job is None:
        cur = store.get(job_id)
        log.info("job %s not claimable (%s); message dropped", job_id,
                 cur.status if cur else "deleted")
        return None
    return execute_job(store, job, worker_id)


def dispatch(store: JobStore, job_id: str, priority: int = 0) -> None:
    """Send the job's message, then record it in the outbox (``jobs.dispatched_at``)."""
    enqueue(job_id, priority)
    store.mark_dispatched(job_id)


def send_undispatched(store: JobStore, now: float | None = None) -> list[str]:
    """Send queued jobs whose message was never sent (a crash between commit and send)
    or was sent long ago and may be lost. Duplicates are harmless: claims are conditional."""
    s = get_settings()
    now = time.time() if now is None else now
    jobs = store.undispatched(created_before=now - s.dispatch_grace_s,
                              sent_before=now - max(s.job_lease_s * 4, 60.0))
    sent = []
    for job in jobs:
        dispatch(store, job.id, job.priority)
        sent.append(job.id)
    if sent:
        log.warning("reaper: sent %d queued jobs that had no (or a lost) broker message",
                    len(sent))
    return sent


def reap_once(store: JobStore) -> list[str]:
    """Re-queue running jobs whose worker stopped heart-beating and send them again; send
    queued jobs missing from the broker. Returns the ids re-queued from running."""
    lease = get_settings().job_lease_s
    requeued, failed = store.requeue_interrupted(stale_before=time.time() - lease)
    for jid in requeued:
        job = store.get(jid)
        dispatch(store, jid, job.priority if job else 0)
    if requeued or failed:
        log.warning("reaper: %d stale jobs re-queued, %d failed", len(requeued), len(failed))
    for jid in failed:
        from reelsmith.jobs.notify import job_finished

        job_finished(store, jid)
    send_undispatched(store)
    return requeued


def start_reaper(store: JobStore, stop: threading.Event) -> threading.Thread:
    return every(max(0.5, get_settings().job_lease_s / 3), lambda: reap_once(store), stop, "reaper")


def run_worker(*, concurrency: int = 1, name: str | None = None, loglevel: str = "info",
               imports: list[str] | None = None) -> int:
    """Run a Celery worker in this process (threads pool: cancellation is in-process)."""
    from reelsmith.jobs import janitor

    app = get_app()
    store = _get_store()
    stop = threading.Event()
    try:  # leftovers of a crash and the retention policy, before taking jobs
        janitor.sweep(store)
    except Exception:  # noqa: BLE001 - cleanup must not stop the worker
        log.warning("janitor sweep at start failed", exc_info=True)
    janitor.start_janitor(store, stop)
    start_reaper(store, stop)
    argv = ["worker", "-P", "threads", "-c", str(max(1, concurrency)), "-Q", QUEUE,
            "--loglevel", loglevel, "--without-gossip", "--without-mingle"]
    if name:
        argv += ["-n", name]
    try:
        app.worker_main(argv=argv)
    finally:
        stop.set()
    return 0
