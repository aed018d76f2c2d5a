"""Ordered parallel map for stages: work runs on a thread pool, results come out in order.

OpenCV, NumPy and FFmpeg release the GIL, so a stage that hands each frame (or frame pair)
to an :class:`OrderedPool` uses every core while its output order stays the input order.
At most ``max_in_flight`` tasks are pending, which keeps memory bounded.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class OrderedPool(Generic[T]):
    def __init__(self, workers: int | None = None, max_in_flight: int | None = None,
                 name: str = "reelsmith-stage") -> None:
        self.workers = workers or default_workers()
        self.max_in_flight = max_in_flight or self.workers * 2
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=name) if self.workers > 1 else None
        self._pending: deque[Future[T]] = deque()

    def submit(self, fn: Callable[[], T]) -> list[T]:
        """Queue ``fn``; return the results that are ready, in submission order."""
        if self._pool is None:
            return [fn()]
        self._pending.append(self._pool.submit(fn))
        out: list[T] = []
        while self._pending and (self._pending[0].done() or len(self._pending) > self.max_in_flight):
            out.append(self._pending.popleft().result())
        return out

    def drain(self) -> list[T]:
        """Wait for everything still pending; results in order."""
        out: list[T] = []
        while self._pending:
            out.append(self._pending.popleft().result())
        return out

    def close(self) -> None:
        for f in self._pending:
            f.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
