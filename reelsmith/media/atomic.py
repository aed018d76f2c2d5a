"""Write-to-temporary-then-rename, so that no half-written output is ever visible.

Every temp name handed out is remembered until it is committed or discarded, so that a
process being stopped (Ctrl-C, SIGTERM in the CLI) can remove whatever a writer had not
cleaned up yet: :func:`discard_pending`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from pathlib import Path


def temp_path_for(final: str | os.PathLike) -> Path:
    """A hidden sibling of ``final`` with the same extension (muxers pick format by it)."""
    p = Path(final)
    tmp = p.with_name(f".{p.stem}.partial-{uuid.uuid4().hex[:8]}{p.suffix}")
    with _pending_lock:
        _pending.add(str(tmp.absolute()))
    return tmp


_pending_lock = threading.Lock()
_pending: set[str] = set()


def _forget(temp: str | os.PathLike) -> None:
    with _pending_lock:
        _pending.discard(str(Path(temp).absolute()))


def discard_pending() -> int:
    """Remove every temp file handed out by :func:`temp_path_for` and not yet committed or
    discarded. For a process that is stopping; returns how many files were removed."""
    with _pending_lock:
        paths = list(_pending)
        _pending.clear()
    n = 0
    for p in paths:
        with contextlib.suppress(OSError):
            os.unlink(p)
            n += 1
    return n


def commit(temp: str | os.PathLike, final: str | os.PathLike, *, fsync: bool = True) -> Path:
    """fsync ``temp`` and atomically move it over ``final``."""
    temp, final = Path(temp), Path(final)
    if fsync:
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(temp, final)
    _forget(temp)
    if fsync:
        with contextlib.suppress(OSError):
            dfd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    return final


def discard(temp: str | os.PathLike) -> None:
    _forget(temp)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)
