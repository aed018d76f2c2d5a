"""What the server holds while it runs: the store, the progress hub, the dispatcher."""

from __future__ import annotations

import logging
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
            logging.getLogger(__name__).warning("janitor sweep at start failed", exc_info=True)
        janitor.start_janitor(self.store, self._stop)
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
    local_only: bool = True  # bound to loopback
    insecure: bool = False  # `serve --insecure`: beyond loopback without keys, on purpose
    started_at: float = field(default_factory=time.time)
    auth_on: bool = False  # decided at start; only ever switches on while running
    _keys_checked_at: float = 0.0

    def __post_init__(self) -> None:
        self.auth_on = (get_settings().require_auth
                        or (not self.local_only and not self.insecure)
                        or self.store.active_key_count() > 0)

    def auth_enabled(self) -> bool:
        """Whether callers must send a key. Decided at start; a key created while the
        server runs turns it on (checked at most every 2 s); nothing turns it off."""
        if self.auth_on:
            return True
        now = time.monotonic()
        if now - self._keys_checked_at > 2.0:
            self._keys_checked_at = now
            if self.store.active_key_count() > 0:
                self.auth_on = True
        return self.auth_on
