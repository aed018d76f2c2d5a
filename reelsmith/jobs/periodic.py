"""Background chores (reaper, janitor): one daemon thread per chore, stopped by an event."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def every(interval_s: float, task: Callable[[], object], stop: threading.Event, name: str) -> threading.Thread:
    """Call ``task`` every ``interval_s`` until ``stop`` is set; a failing round is logged and
    the next one runs as usual (a database or broker hiccup must not end the chore)."""

    def loop() -> None:
        while not stop.wait(interval_s):
            try:
                task()
            except Exception:  # noqa: BLE001 - see the docstring
                log.warning("%s round failed", name, exc_info=True)

    t = threading.Thread(target=loop, name=f"reelsmith-{name}", daemon=True)
    t.start()
    return t
