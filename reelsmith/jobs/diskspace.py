"""Free space in the data dir: new work is refused (HTTP 507) before the disk fills up.

``check_free_space()`` is cheap enough for every request: the ``statvfs`` result is cached
for about a second. The threshold (``min_free_bytes``) is read from the settings on every
call, so a changed setting applies without a restart.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from reelsmith.config import get_settings
from reelsmith.errors import InsufficientStorage

CACHE_S = 1.0

_lock = threading.Lock()
_cache: dict[str, tuple[float, int]] = {}  # path -> (monotonic time, free bytes)


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (the data dir may not exist yet)."""
    p = path.absolute()
    while not p.exists() and p.parent != p:
        p = p.parent
    return p


def free_bytes(path: str | os.PathLike, *, max_age_s: float = 0.0) -> int:
    """Bytes an unprivileged process may still write on the filesystem holding ``path``.

    ``max_age_s`` > 0 reuses a measurement at most that old.
    """
    key = str(path)
    now = time.monotonic()
    if max_age_s > 0:
        with _lock:
            hit = _cache.get(key)
        if hit is not None and now - hit[0] <= max_age_s:
            return hit[1]
    st = os.statvfs(_existing(Path(path)))
    free = int(st.f_bavail) * int(st.f_frsize)
    with _lock:
        _cache[key] = (now, free)
    return free


def format_size(n: int) -> str:
    """Human-readable bytes: ``512 MiB``, ``1.5 GiB``."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            if unit == "bytes":
                return f"{int(value)} bytes"
            return f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    return f"{n} bytes"  # pragma: no cover - unreachable


def disk_status(*, max_age_s: float = CACHE_S) -> dict[str, Any]:
    """``{"path", "free_bytes", "threshold_bytes", "ok"}`` for the data dir."""
    s = get_settings()
    free = free_bytes(s.data_dir, max_age_s=max_age_s)
    threshold = max(0, int(s.min_free_bytes))
    return {"path": str(s.data_dir), "free_bytes": free, "threshold_bytes": threshold,
            "ok": free >= threshold}


def check_free_space(*, max_age_s: float = CACHE_S) -> None:
    """Raise :class:`InsufficientStorage` when the data dir has less than ``min_free_bytes``."""
    st = disk_status(max_age_s=max_age_s)
    if not st["ok"]:
        raise InsufficientStorage(
            f"The server is low on disk space ({format_size(st['free_bytes'])} free, "
            f"{format_size(st['threshold_bytes'])} required), so it cannot take new work "
            "until space is freed.")
