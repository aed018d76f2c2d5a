"""In-process progress fan-out: runner threads publish, any number of listeners receive.

A listener registers a thread-safe callback (the server wraps an asyncio queue); the last
state of every job is kept so that a late subscriber gets it first. Progress of jobs run by
other processes (Celery workers) reaches listeners through the job table instead, which
the server polls while a listener waits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from reelsmith.jobs import models as m

Listener = Callable[[dict[str, Any]], None]


def job_state(job: m.Job) -> dict[str, Any]:
    """The progress message for a job row."""
    return {
        "job_id": job.id,
        "status": job.status,
        "stage": job.stage or job.status,
        "progress": 1.0 if job.status == m.COMPLETED else float(job.progress or 0.0),
        "message": job.error if job.status in (m.FAILED, m.CANCELLED) and job.error
        else (job.message or ""),
        "eta_seconds": job.eta_seconds if job.status == m.RUNNING else None,
    }


class ProgressHub:
    def __init__(self, keep: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._last: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._listeners: dict[str, list[Listener]] = {}
        self._keep = keep

    def publish(self, state: dict[str, Any]) -> None:
        job_id = state["job_id"]
        with self._lock:
            self._last[job_id] = state
            self._last.move_to_end(job_id)
            while len(self._last) > self._keep:
                self._last.popitem(last=False)
            listeners = list(self._listeners.get(job_id, ()))
        for fn in listeners:
            try:
                fn(state)
            except Exception:  # noqa: BLE001 - a broken listener must not stop the job
                pass

    def last(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._last.get(job_id)

    def subscribe(self, job_id: str, fn: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.setdefault(job_id, []).append(fn)

        def unsubscribe() -> None:
            with self._lock:
                lst = self._listeners.get(job_id, [])
                if fn in lst:
                    lst.remove(fn)
                if not lst:
                    self._listeners.pop(job_id, None)

        return unsubscribe

    def listener_count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._listeners.values())
