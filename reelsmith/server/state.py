"""What the server holds while it runs: the store, the progress hub, the dispatcher and the
:class:`~reelsmith.jobs.service.JobService` that creates, cancels, retries and deletes jobs
with them, the rate limiter, and what it decided at start about who may call it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from reelsmith.config import get_settings
from reelsmith.jobs.dispatchers import Dispatcher
from reelsmith.jobs.events import ProgressHub
from reelsmith.jobs.service import JobService
from reelsmith.jobs.store import JobStore
from reelsmith.server import intake


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
    jobs: JobService = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobService(self.store, self.hub, self.dispatcher)
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

    def paths_allowed(self) -> bool:
        """Whether requests may name files on the server by path (see :mod:`intake`)."""
        return intake.paths_allowed(self.local_only, self.auth_enabled())
