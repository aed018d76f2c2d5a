"""Dispatchers: how a queued job reaches whatever runs it.

The job table is the source of truth; a dispatcher only says "there is work" to the
runner. :class:`LocalDispatcher` wakes the in-process :class:`~reelsmith.jobs.runner.LocalRunner`;
:class:`CeleryDispatcher` sends a broker message and records it in the outbox
(``jobs.dispatched_at``), with the reaper re-sending what a crash lost;
:class:`EnqueueOnly` leaves jobs in the table for another process to claim.
"""

from __future__ import annotations

import logging
import threading

from reelsmith.jobs.runner import LocalRunner
from reelsmith.jobs.store import JobStore

log = logging.getLogger(__name__)


class Dispatcher:
    """Sends queued jobs to whatever runs them."""

    mode = "none"

    def submit(self, job_id: str, priority: int = 0) -> None:
        raise NotImplementedError

    def cancel(self, job_id: str) -> None:
        """Best-effort immediate stop; the cancel flag in the table is the durable part."""

    def workers(self) -> dict[str, int]:
        return {"idle": 0, "running": 0}

    def start(self) -> None: ...

    def stop(self) -> None: ...


class EnqueueOnly(Dispatcher):
    """Jobs stay queued in the table; another process (``reelsmith worker``) claims them."""

    def submit(self, job_id: str, priority: int = 0) -> None:
        pass


class LocalDispatcher(Dispatcher):
    mode = "local"

    def __init__(self, runner: LocalRunner) -> None:
        self.runner = runner

    def submit(self, job_id: str, priority: int = 0) -> None:
        self.runner.wake()

    def cancel(self, job_id: str) -> None:
        self.runner.cancel(job_id)

    def workers(self) -> dict[str, int]:
        active = self.runner.active
        return {"idle": max(0, self.runner.concurrency - active), "running": active}

    def start(self) -> None:
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()


class CeleryDispatcher(Dispatcher):
    """Jobs go to Celery workers (``reelsmith worker``) through the broker."""

    mode = "celery"

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self._stop = threading.Event()

    def submit(self, job_id: str, priority: int = 0) -> None:
        """Send the message, then mark the job dispatched (the outbox). If this process
        dies in between, the reaper sends the job after ``dispatch_grace_s``."""
        from reelsmith.jobs.celery_app import dispatch

        dispatch(self.store, job_id, priority)

    def workers(self) -> dict[str, int]:
        counts = self.store.counts()
        return {"idle": 0, "running": counts.get("running", 0)}

    def start(self) -> None:
        from reelsmith.jobs import janitor
        from reelsmith.jobs.celery_app import start_reaper

        try:  # uploads of a crashed server; retention (workers sweep too: harmless)
            janitor.sweep(self.store)
        except Exception:  # noqa: BLE001 - cleanup must not stop the server
            log.warning("janitor sweep at start failed", exc_info=True)
        janitor.start_janitor(self.store, self._stop)
        start_reaper(self.store, self._stop)

    def stop(self) -> None:
        self._stop.set()
