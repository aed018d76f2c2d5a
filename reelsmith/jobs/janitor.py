"""The janitor: removes what crashes leave behind and applies the retention policy.

One :func:`sweep` does it all, at runner/worker start and then every
``janitor_interval_s`` (:func:`start_janitor`):

- scratch dirs under ``data_dir/work`` that belong to no running job (``<job_id>-<attempt>``
  of the runners, ``job-<id12>-*`` of the RunPod handler);
- half-written files (``.part-*`` of the multipart intake, ``.<name>.partial*`` of the
  atomic writers) under ``uploads/`` and ``artifacts/``, once older than a minute;
- upload dirs without an upload row (an upload interrupted by a crash), once older than a
  minute;
- retention by age (``retention_days``: finished jobs' artifacts, old upload files) and by
  total size (``retention_max_bytes``: oldest finished jobs' artifacts first, then the
  oldest uploads no queued or running job needs). Jobs whose artifacts go are marked
  ``artifacts_expired`` and their published copies (``jobs.published``) are removed too.

Every removal is re-checked against the job table *after* the directory was listed, so a
job claimed while the sweep runs keeps its files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from reelsmith.config import get_settings
from reelsmith.jobs import artifacts
from reelsmith.jobs import models as m
from reelsmith.jobs.periodic import every
from reelsmith.jobs.store import JobStore

log = logging.getLogger(__name__)

MIN_AGE_S = 60.0  # partial files and orphan uploads younger than this may still be in use
_WORK_DIR = re.compile(r"^([0-9a-f]{32})-(\d+)$")
_HANDLER_DIR = re.compile(r"^job-([0-9A-Za-z_-]+?)-[^/]*$")


def new_counts() -> dict[str, int]:
    return {"work_dirs": 0, "partial_files": 0, "orphan_uploads": 0, "expired_jobs": 0,
            "expired_uploads": 0, "published_files": 0, "bytes_freed": 0}


def tree_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (or of ``path`` itself); 0 when gone."""
    try:
        if path.is_symlink() or path.is_file():
            return path.lstat().st_size
    except OSError:
        return 0
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def newest_mtime(path: Path) -> float:
    """The latest mtime of ``path`` and anything under it (a growing file counts as live)."""
    try:
        newest = path.lstat().st_mtime
    except OSError:
        return 0.0
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                with contextlib.suppress(OSError):
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
    return newest


def _remove(path: Path) -> int:
    """Remove a file or a tree; returns the bytes it held."""
    size = tree_size(path)
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return 0
    except OSError as exc:
        log.warning("janitor: could not remove %s (%s)", path, exc)
        shutil.rmtree(path, ignore_errors=True)
        return 0 if path.exists() else size
    return size


def _running(store: JobStore) -> dict[str, int]:
    """Running jobs: id -> current attempt."""
    with store.Session() as s:
        rows = s.execute(select(m.Job.id, m.Job.attempts).where(m.Job.status == m.RUNNING))
        return {jid: int(att) for jid, att in rows}


def _listdir(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


# -- leftovers ----------------------------------------------------------------------------
def _sweep_work(store: JobStore, now: float, counts: dict[str, int]) -> None:
    entries = _listdir(artifacts.data_dir() / "work")
    if not entries:
        return
    running = _running(store)  # read after listing: a dir seen above is already claimed
    short = {jid[:12] for jid in running}
    for p in entries:
        name = p.name
        mw = _WORK_DIR.match(name)
        if mw:
            if running.get(mw.group(1)) == int(mw.group(2)):
                continue
        else:
            mh = _HANDLER_DIR.match(name)
            if mh is None:
                continue  # not ours: leave it
            if mh.group(1) in short or now - newest_mtime(p) < MIN_AGE_S:
                continue
        counts["bytes_freed"] += _remove(p)
        counts["work_dirs"] += 1


def is_partial_name(name: str) -> bool:
    """Names the atomic writers and the multipart intake give to unfinished files."""
    return name.startswith(".part-") or (name.startswith(".") and ".partial" in name)


def _sweep_partials(now: float, counts: dict[str, int]) -> None:
    for root in (artifacts.uploads_root(), artifacts.data_dir() / "artifacts"):
        if not root.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                if not is_partial_name(name):
                    continue
                p = Path(dirpath) / name
                try:
                    if now - p.lstat().st_mtime < MIN_AGE_S:
                        continue
                except OSError:
                    continue
                counts["bytes_freed"] += _remove(p)
                counts["partial_files"] += 1


def _sweep_orphan_uploads(store: JobStore, now: float, counts: dict[str, int]) -> None:
    entries = [p for p in _listdir(artifacts.uploads_root())
               if p.is_dir() and artifacts.valid_id(p.name)]
    if not entries:
        return
    known = store.upload_ids()  # read after listing: a finished upload has its row by now
    for p in entries:
        if p.name in known or now - newest_mtime(p) < MIN_AGE_S:
            continue
        counts["bytes_freed"] += _remove(p)
        counts["orphan_uploads"] += 1


# -- retention ----------------------------------------------------------------------------
def remove_published(store: JobStore, job: m.Job) -> tuple[int, int]:
    """Delete the copies of ``job``'s outputs written outside the data dir; (files, bytes)."""
    paths = [v for v in (job.published or {}).values() if isinstance(v, str) and v]
    n = freed = 0
    for raw in paths:
        p = Path(raw)
        with contextlib.suppress(OSError):
            if p.is_file() or p.is_symlink():
                size = p.lstat().st_size
                p.unlink()
                n += 1
                freed += size
    if job.published:
        store.set_published(job.id, {})
    return n, freed


def expire_job(store: JobStore, job: m.Job, counts: dict[str, int]) -> None:
    """Remove a finished job's artifacts and published copies; mark it expired."""
    d = artifacts.artifacts_dir(job.id)
    counts["bytes_freed"] += _remove(d) if d.exists() else 0
    files, freed = remove_published(store, job)
    counts["published_files"] += files
    counts["bytes_freed"] += freed
    store.mark_expired(job.id)
    counts["expired_jobs"] += 1


def _finished_oldest_first(store: JobStore) -> list[m.Job]:
    q = (select(m.Job).where(m.Job.status.in_(m.FINISHED), m.Job.artifacts_expired.is_(False))
         .order_by(m.Job.finished_at, m.Job.id))
    with store.Session() as s:
        return list(s.scalars(q))


def _uploads_in_use(store: JobStore) -> set[str]:
    """Upload ids referenced by queued or running jobs (their files must stay)."""
    q = select(m.Job.inputs).where(m.Job.status.in_((m.QUEUED, m.RUNNING)))
    with store.Session() as s:
        inputs = list(s.scalars(q))
    used: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            uid = v.get("upload_id")
            if isinstance(uid, str):
                used.add(uid)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(inputs)
    return used


def _upload_dirs(exclude: Iterable[str]) -> list[tuple[float, Path]]:
    """(mtime, dir) of stored uploads, oldest first, leaving out ``exclude``."""
    skip = set(exclude)
    out = []
    for p in _listdir(artifacts.uploads_root()):
        if p.is_dir() and p.name not in skip:
            with contextlib.suppress(OSError):
                out.append((p.stat().st_mtime, p))
    out.sort()
    return out


def retention_by_age(store: JobStore, now: float, counts: dict[str, int]) -> None:
    days = get_settings().retention_days
    if days <= 0:
        return
    cutoff = now - days * 86400
    for job in store.finished_before(cutoff):
        expire_job(store, job, counts)
    # Old uploads too: files only; the row stays so that an id reports "expired".
    for mtime, d in _upload_dirs(_uploads_in_use(store)):
        if mtime < cutoff and newest_mtime(d) < cutoff:
            counts["bytes_freed"] += _remove(d)
            counts["expired_uploads"] += 1


def apply_retention(store: JobStore, now: float | None = None) -> int:
    """Retention by age alone: expire artifacts of jobs finished more than
    ``retention_days`` ago (and old upload files). Returns the number of jobs expired;
    :func:`sweep` does this and more."""
    counts = new_counts()
    retention_by_age(store, time.time() if now is None else now, counts)
    return counts["expired_jobs"]


def stored_bytes() -> int:
    """Bytes held by job files: artifacts plus uploads."""
    return tree_size(artifacts.data_dir() / "artifacts") + tree_size(artifacts.uploads_root())


def retention_by_size(store: JobStore, now: float, counts: dict[str, int]) -> None:
    cap = get_settings().retention_max_bytes
    if cap <= 0:
        return
    total = stored_bytes()
    if total <= cap:
        return
    for job in _finished_oldest_first(store):
        if total <= cap:
            return
        before = counts["bytes_freed"]
        held = tree_size(artifacts.artifacts_dir(job.id))
        expire_job(store, job, counts)
        total -= held
        log.debug("janitor: job %s expired for size (%d bytes)", job.id,
                  counts["bytes_freed"] - before)
    in_use = _uploads_in_use(store)
    for mtime, d in _upload_dirs(in_use):
        if total <= cap:
            return
        if now - mtime < MIN_AGE_S:
            continue  # may be about to become a job's input
        held = _remove(d)
        total -= held
        counts["bytes_freed"] += held
        counts["expired_uploads"] += 1


# -- the sweep ----------------------------------------------------------------------------
def sweep(store: JobStore, now: float | None = None) -> dict[str, int]:
    """One pass over the data dir. Returns counts of what went and ``bytes_freed``.

    ``now`` shifts the clock for the age rules (tests); removal safety (running jobs,
    upload rows) never depends on it.
    """
    now = time.time() if now is None else now
    counts = new_counts()
    steps = (("work dirs", lambda: _sweep_work(store, now, counts)),
             # orphans before partials: removing a partial file makes its dir look fresh
             ("orphan uploads", lambda: _sweep_orphan_uploads(store, now, counts)),
             ("partial files", lambda: _sweep_partials(now, counts)),
             ("retention by age", lambda: retention_by_age(store, now, counts)),
             ("retention by size", lambda: retention_by_size(store, now, counts)))
    for what, step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - one failing step must not stop the others
            log.warning("janitor: %s failed", what, exc_info=True)
    removed = {k: v for k, v in counts.items() if v and k != "bytes_freed"}
    if removed:
        log.info("janitor: removed %s; %d bytes freed",
                 ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in removed.items()),
                 counts["bytes_freed"])
    return counts


def start_janitor(store: JobStore, stop: threading.Event,
                  interval_s: float | None = None) -> threading.Thread | None:
    """Sweep every ``interval_s`` (default ``janitor_interval_s``) until ``stop`` is set.

    Returns the daemon thread, or None when the interval is 0 (sweep at start only).
    """
    interval = get_settings().janitor_interval_s if interval_s is None else interval_s
    if interval <= 0:
        return None

    return every(interval, lambda: sweep(store), stop, "janitor")
