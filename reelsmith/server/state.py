"""What the server holds while it runs: the store, the progress hub, the dispatcher."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from reelsmith.config import get_settings
from reelsmith.jobs.events import ProgressHub
from reelsmith.jobs.runner import LocalRunner
from reelsmith.jobs.store import JobStore


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
        from reelsmith.jobs.celery_app import enqueue

        enqueue(job_id, priority)

    def workers(self) -> dict[str, int]:
        counts = self.store.counts()
        return {"idle": 0, "running": counts.get("running", 0)}

    def start(self) -> None:
        from reelsmith.jobs.celery_app import start_reaper

        start_reaper(self.store, self._stop)

    def stop(self) -> None:
        self._stop.set()


class RateLimiter:
    """Token bucket per caller: ``per_minute`` requests, bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: str) -> float:
        """0 when allowed, else the seconds to wait."""
        if self.capacity <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(who, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[who] = (tokens - 1.0, now)
                return 0.0
            self._buckets[who] = (tokens, now)
            return (1.0 - tokens) / self.rate


@dataclass
class ServerState:
    store: JobStore
    hub: ProgressHub
    dispatcher: Dispatcher
    limiter: RateLimiter
    local_only: bool = True  # bound to loopback: server paths allowed without allowed_roots
    started_at: float = field(default_factory=time.time)
    _auth_cache: tuple[float, bool] = (0.0, False)
    stream_sent: dict[str, int] = field(default_factory=dict)

    def auth_enabled(self) -> bool:
        if get_settings().require_auth:
            return True
        t, val = self._auth_cache
        now = time.monotonic()
        if now - t > 2.0:
            val = self.store.active_key_count() > 0
            self._auth_cache = (now, val)
        return val
