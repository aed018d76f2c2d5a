"""The in-process runner: a small pool of threads taking jobs from the job table.

Used by ``reelsmith serve`` when no broker is configured. Each thread claims the most
urgent queued job (priority, then age), runs it, and looks again; ``wake()`` (called on
submit) saves the poll delay. ``cancel(job_id)`` stops a running job at its next
``ctx.check()`` (per frame), well within a second.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
import uuid

from reelsmith.config import get_settings
from reelsmith.engine.context import JobContext
from reelsmith.jobs import janitor
from reelsmith.jobs.events import ProgressHub
from reelsmith.jobs.execute import execute_job
from reelsmith.jobs.notify import job_finished
from reelsmith.jobs.store import JobStore

log = logging.getLogger(__name__)


def gpu_count() -> int:
    """Number of NVIDIA GPUs (nvidia-smi -L), 0 when none or no driver."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return 0
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def default_concurrency() -> int:
    """One job per GPU; without GPUs, half the CPUs (the API keeps the rest)."""
    configured = get_settings().server_workers
    if configured > 0:
        return configured
    gpus = gpu_count()
    if gpus:
        return gpus
    return max(1, (os.cpu_count() or 2) // 2)


class LocalRunner:
    def __init__(self, store: JobStore, hub: ProgressHub | None = None,
                 concurrency: int | None = None, poll_s: float = 1.0) -> None:
        self.store = store
        self.hub = hub or ProgressHub()
        self.concurrency = concurrency or default_concurrency()
        self.poll_s = poll_s
        self.worker_id = f"local-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._wake = threading.Condition()
        self._pending_wakes = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._janitor: threading.Thread | None = None
        self._running: dict[str, JobContext] = {}
        self._lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------
    def start(self, *, recover: bool = True) -> None:
        if recover:
            requeued, failed = self.store.requeue_interrupted(worker_prefix="local-")
            if requeued or failed:
                log.warning("recovered interrupted jobs: %d re-queued, %d failed",
                            len(requeued), len(failed))
            for jid in failed:
                job_finished(self.store, jid)
        try:  # leftovers of a crash and the retention policy, before taking jobs
            janitor.sweep(self.store)
        except Exception:  # noqa: BLE001 - cleanup must not stop the server
            log.warning("janitor sweep at start failed", exc_info=True)
        self._janitor = janitor.start_janitor(self.store, self._stop)
        for i in range(self.concurrency):
            t = threading.Thread(target=self._loop, name=f"reelsmith-runner-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; cancel running ones and give them back to the queue."""
        self._stop.set()
        with self._lock:
            ctxs = list(self._running.values())
        for ctx in ctxs:
            ctx.shutdown = True  # type: ignore[attr-defined]
            ctx.cancel()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self._janitor is not None:  # stops at its next wait; a sweep in progress finishes
            self._janitor.join(max(0.0, deadline - time.monotonic()))

    def wake(self) -> None:
        with self._wake:
            self._pending_wakes += 1
            self._wake.notify()

    # -- control ------------------------------------------------------------------
    def cancel(self, job_id: str) -> bool:
        with self._lock:
            ctx = self._running.get(job_id)
        if ctx is None:
            return False
        ctx.cancel()
        return True

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._running)

    # -- work ---------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.store.claim_next(self.worker_id)
            except Exception:  # noqa: BLE001 - e.g. database briefly locked
                log.warning("claiming a job failed", exc_info=True)
                job = None
            if job is None:
                with self._wake:
                    if self._pending_wakes == 0:
                        self._wake.wait(self.poll_s)
                    self._pending_wakes = max(0, self._pending_wakes - 1)
                continue
            ctx = JobContext(timeout_s=get_settings().job_timeout_s or None)
            with self._lock:
                self._running[job.id] = ctx
            try:
                self._run_one(job, ctx)
            finally:
                with self._lock:
                    self._running.pop(job.id, None)

    def _run_one(self, job, ctx: JobContext) -> None:  # noqa: ANN001
        try:
            execute_job(self.store, job, self.worker_id, ctx=ctx, publish=self.hub.publish)
        except Exception:  # noqa: BLE001 - never let a job kill the runner thread
            log.exception("runner failed on job %s", job.id)
