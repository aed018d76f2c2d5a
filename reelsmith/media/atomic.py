"""Write-to-temporary-then-rename, so that no half-written output is ever visible."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path


def temp_path_for(final: str | os.PathLike) -> Path:
    """A hidden sibling of ``final`` with the same extension (muxers pick format by it)."""
    p = Path(final)
    return p.with_name(f".{p.stem}.partial-{uuid.uuid4().hex[:8]}{p.suffix}")


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
    if fsync:
        with contextlib.suppress(OSError):
            dfd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    return final


def discard(temp: str | os.PathLike) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)
