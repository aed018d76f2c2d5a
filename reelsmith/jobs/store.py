"""The job store: every state change of a job is one short, conditional transaction.

Claiming is ``UPDATE ... WHERE id = ? AND status = 'queued'`` (checked by row count), so
any number of runner threads or Celery workers can race for the same job and exactly one
wins. Finishing is conditional on the claimant (``worker_id``) still holding the job, so a
worker that lost its lease (it stalled and the job was handed to another) cannot
overwrite the other's result.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reelsmith.config import get_settings
from reelsmith.jobs import lifecycle
from reelsmith.jobs import models as m
from reelsmith.jobs.db import get_engine, session_factory
from reelsmith.jobs.groupcommit import GroupInsert


def new_id() -> str:
    """An unguessable identifier (128 random bits, hex)."""
    return uuid.uuid4().hex


_SQLITE_WRITE_LOCKS: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


def _write_lock(engine: Engine) -> threading.RLock | contextlib.nullcontext:
    """SQLite allows one writer at a time and makes the others sleep in its busy handler
    (backing off up to 100 ms a try): under 200 concurrent submits that sleeping, not the
    work, set the latency. Writers in one process queue on a lock instead. PostgreSQL
    needs none."""
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    with _locks_guard:
        return _SQLITE_WRITE_LOCKS.setdefault(str(engine.url), threading.RLock())


class JobStore:
    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or get_engine()
        self.Session = session_factory(self.engine)
        self._lock = _write_lock(self.engine)
        self._job_inserts = GroupInsert(
            self.engine, m.Job.__table__,
            None if isinstance(self._lock, contextlib.nullcontext) else self._lock)

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction (serialised per process on SQLite, see :func:`_write_lock`)."""
        with self._lock, self.Session.begin() as s:
            yield s

    # -- jobs -------------------------------------------------------------------
    def create_job(self, *, owner: str, workflow: str, params: dict[str, Any],
                   inputs: dict[str, Any], priority: int = 0, webhook_url: str | None = None,
                   kind: str = m.KIND_WORKFLOW, endpoint_id: str | None = None,
                   max_attempts: int | None = None, job_id: str | None = None) -> m.Job:
        """Insert a queued job. Concurrent calls share one transaction (group commit)."""
        now = time.time()
        row = dict(
            id=job_id or new_id(), owner=owner, kind=kind, endpoint_id=endpoint_id,
            workflow=workflow, status=m.QUEUED, priority=int(priority), params=params,
            inputs=inputs, result=None, error=None, error_code=None, stage="queued",
            progress=0.0, message="", eta_seconds=None, attempts=0,
            max_attempts=max_attempts or get_settings().job_max_attempts,
            cancel_requested=False, webhook_url=webhook_url, worker_id=None, heartbeat_at=None,
            created_at=now, started_at=None, finished_at=None, updated_at=now,
            artifacts_expired=False, dispatched_at=None, stream_mark=None, published=None,
        )
        self._job_inserts.insert(row)
        job = m.Job(**row)
        return job

    def get(self, job_id: str, owner: str | None = None) -> m.Job | None:
        with self.Session() as s:
            job = s.get(m.Job, job_id)
            if job is None or (owner is not None and job.owner != owner):
                return None
            return job

    def list(self, *, owner: str | None = None, status: str | None = None,
             workflow: str | None = None, kind: str | None = None, limit: int = 50,
             offset: int = 0) -> tuple[list[m.Job], int]:
        q = select(m.Job)
        cq = select(func.count()).select_from(m.Job)
        for col, val in ((m.Job.owner, owner), (m.Job.status, status),
                         (m.Job.workflow, workflow), (m.Job.kind, kind)):
            if val is not None:
                q = q.where(col == val)
                cq = cq.where(col == val)
        q = q.order_by(m.Job.created_at.desc(), m.Job.id).limit(limit).offset(offset)
        with self.Session() as s:
            return list(s.scalars(q)), int(s.scalar(cq) or 0)

    def counts(self, owner: str | None = None) -> dict[str, int]:
        q = select(m.Job.status, func.count()).group_by(m.Job.status)
        if owner is not None:
            q = q.where(m.Job.owner == owner)
        with self.Session() as s:
            got = {st: int(n) for st, n in s.execute(q)}
        return {st: got.get(st, 0) for st in m.STATUSES}

    def _update(self, job_id: str, where: Iterable[Any] = (), **values: Any) -> bool:
        values.setdefault("updated_at", time.time())
        stmt = update(m.Job).where(m.Job.id == job_id, *where).values(**values)
        with self._write() as s:
            return s.execute(stmt).rowcount == 1

    def claim(self, job_id: str, worker_id: str) -> m.Job | None:
        """Take a queued job; None when someone else has it or it is not queued."""
        now = time.time()
        stmt = (update(m.Job)
                .where(m.Job.id == job_id, m.Job.status == m.QUEUED)
                .values(status=m.RUNNING, worker_id=worker_id, heartbeat_at=now,
                        started_at=now, updated_at=now, attempts=m.Job.attempts + 1,
                        stage="starting", progress=0.0, message="", eta_seconds=None))
        with self._write() as s:
            if s.execute(stmt).rowcount != 1:
                return None
        return self.get(job_id)

    def claim_next(self, worker_id: str, kinds: tuple[str, ...] | None = None) -> m.Job | None:
        """Take the most urgent queued job (priority desc, then oldest)."""
        for _ in range(20):
            q = (select(m.Job.id).where(m.Job.status == m.QUEUED)
                 .order_by(m.Job.priority.desc(), m.Job.created_at, m.Job.id).limit(5))
            if kinds:
                q = q.where(m.Job.kind.in_(kinds))
            with self.Session() as s:
                ids = list(s.scalars(q))
            if not ids:
                return None
            for jid in ids:
                job = self.claim(jid, worker_id)
                if job is not None:
                    return job
        return None

    def heartbeat(self, job_id: str, worker_id: str) -> bool | None:
        """Refresh the lease. Returns cancel_requested, or None if the lease is lost."""
        if not self._update(job_id, (m.Job.worker_id == worker_id, m.Job.status == m.RUNNING),
                            heartbeat_at=time.time()):
            return None
        with self.Session() as s:
            return bool(s.scalar(select(m.Job.cancel_requested).where(m.Job.id == job_id)))

    def set_progress(self, job_id: str, worker_id: str, *, stage: str, progress: float,
                     message: str, eta_seconds: float | None) -> bool:
        return self._update(job_id, (m.Job.worker_id == worker_id, m.Job.status == m.RUNNING),
                            stage=stage[:100], progress=float(progress), message=message,
                            eta_seconds=eta_seconds, heartbeat_at=time.time())

    def finish(self, job_id: str, worker_id: str, status: str, *,
               result: dict[str, Any] | None = None, error: str | None = None,
               error_code: str | None = None) -> bool:
        """Record the outcome, only if ``worker_id`` still holds the running job."""
        assert status in m.FINISHED
        now = time.time()
        values: dict[str, Any] = dict(status=status, result=result, error=error,
                                      error_code=error_code, finished_at=now, eta_seconds=None,
                                      stage=status, heartbeat_at=now)
        if status == m.COMPLETED:
            values.update(progress=1.0, message="done")
        return self._update(job_id, (m.Job.worker_id == worker_id, m.Job.status == m.RUNNING),
                            **values)

    def release(self, job_id: str, worker_id: str, message: str) -> bool:
        """Give a running job back to the queue (worker shutting down)."""
        done = self._update(job_id, (m.Job.worker_id == worker_id, m.Job.status == m.RUNNING),
                            status=m.QUEUED, worker_id=None, stage="queued", message=message,
                            attempts=m.Job.attempts - 1)
        if done:
            lifecycle.requeued(job_id, message)
        return done

    def request_cancel(self, job_id: str) -> str | None:
        """Cancel a queued job at once; flag a running one. Returns the status after."""
        now = time.time()
        if self._update(job_id, (m.Job.status == m.QUEUED,), status=m.CANCELLED,
                        cancel_requested=True, finished_at=now, stage=m.CANCELLED,
                        error="The job was cancelled.", error_code="cancelled"):
            return m.CANCELLED
        self._update(job_id, (m.Job.status == m.RUNNING,), cancel_requested=True)
        job = self.get(job_id)
        return job.status if job else None

    def retry(self, job_id: str) -> bool:
        """Put a failed or cancelled job back in the queue with fresh attempts."""
        done = self._update(
            job_id, (m.Job.status.in_((m.FAILED, m.CANCELLED)),), status=m.QUEUED, attempts=0,
            cancel_requested=False, error=None, error_code=None, result=None, finished_at=None,
            started_at=None, worker_id=None, stage="queued", progress=0.0, message="",
            artifacts_expired=False, dispatched_at=None, stream_mark=None)
        if done:
            lifecycle.requeued(job_id, "retried by its owner")
        return done

    def delete(self, job_id: str) -> bool:
        with self._write() as s:
            s.execute(delete(m.WebhookDelivery).where(m.WebhookDelivery.job_id == job_id))
            return s.execute(delete(m.Job).where(m.Job.id == job_id)).rowcount == 1

    def requeue_interrupted(self, *, stale_before: float | None = None,
                            worker_prefix: str | None = None) -> tuple[list[str], list[str]]:
        """Running jobs whose worker is gone go back to the queue, or fail past their limit.

        ``stale_before``: only jobs whose last heartbeat is older (None: all running jobs,
        which is right at the start of a single-process server). Returns (requeued, failed).
        """
        q = select(m.Job).where(m.Job.status == m.RUNNING)
        if stale_before is not None:
            q = q.where(m.Job.heartbeat_at < stale_before)
        if worker_prefix is not None:
            q = q.where(m.Job.worker_id.like(worker_prefix + "%"))
        with self.Session() as s:
            stuck = list(s.scalars(q))
        requeued, failed = [], []
        for job in stuck:
            cond = (m.Job.status == m.RUNNING, m.Job.worker_id == job.worker_id)
            if job.attempts >= job.max_attempts:
                if self._update(job.id, cond, status=m.FAILED, finished_at=time.time(),
                                stage=m.FAILED, error_code="interrupted",
                                error=f"The job was interrupted {job.attempts} times (its worker "
                                      "stopped) and reached its attempt limit."):
                    failed.append(job.id)
                    lifecycle.finished(job.id, job.owner, job.workflow, m.FAILED, 0.0,
                                       "interrupted too often (attempt limit reached)")
            elif self._update(job.id, cond, status=m.QUEUED, worker_id=None, stage="queued",
                              message=f"re-queued after an interruption (attempt "
                                      f"{job.attempts} of {job.max_attempts})"):
                requeued.append(job.id)
                lifecycle.requeued(job.id, f"its worker stopped (attempt {job.attempts} of {job.max_attempts})")
        return requeued, failed

    def purge_queue(self, *, owner: str | None = None, endpoint_id: str | None = None) -> int:
        now = time.time()
        stmt = update(m.Job).where(m.Job.status == m.QUEUED)
        if owner is not None:
            stmt = stmt.where(m.Job.owner == owner)
        if endpoint_id is not None:
            stmt = stmt.where(m.Job.endpoint_id == endpoint_id)
        stmt = stmt.values(status=m.CANCELLED, cancel_requested=True, finished_at=now,
                           updated_at=now, stage=m.CANCELLED, error_code="cancelled",
                           error="The job was removed from the queue.")
        with self._write() as s:
            return int(s.execute(stmt).rowcount)

    def finished_before(self, t: float) -> list[m.Job]:
        q = select(m.Job).where(m.Job.status.in_(m.FINISHED), m.Job.finished_at < t,
                                m.Job.artifacts_expired.is_(False))
        with self.Session() as s:
            return list(s.scalars(q))

    def mark_expired(self, job_id: str) -> None:
        self._update(job_id, artifacts_expired=True)

    # -- dispatch outbox ----------------------------------------------------------
    def mark_dispatched(self, job_id: str) -> None:
        """Record that the job was handed to a runner (its message was sent)."""
        self._update(job_id, (m.Job.status == m.QUEUED,), dispatched_at=time.time())

    def undispatched(self, *, created_before: float, sent_before: float | None = None,
                     limit: int = 500) -> list[m.Job]:
        """Queued jobs never dispatched (created before ``created_before``) and, with
        ``sent_before``, queued jobs whose message was sent before then (maybe lost)."""
        never = (m.Job.dispatched_at.is_(None)) & (m.Job.created_at < created_before)
        cond = never if sent_before is None else never | (m.Job.dispatched_at < sent_before)
        q = (select(m.Job).where(m.Job.status == m.QUEUED, cond)
             .order_by(m.Job.priority.desc(), m.Job.created_at).limit(limit))
        with self.Session() as s:
            return list(s.scalars(q))

    # -- /v2 stream cursor --------------------------------------------------------
    def swap_stream_mark(self, job_id: str, old: str | None, new: str) -> bool:
        """Compare-and-set the job's stream cursor; False when another call moved it first."""
        cond = m.Job.stream_mark.is_(None) if old is None else m.Job.stream_mark == old
        return self._update(job_id, (cond,), stream_mark=new)

    def set_published(self, job_id: str, published: dict[str, str]) -> None:
        self._update(job_id, published=published)

    # -- uploads ----------------------------------------------------------------
    def add_upload(self, upload: m.Upload) -> m.Upload:
        with self._write() as s:
            s.add(upload)
        return upload

    def get_upload(self, upload_id: str, owner: str | None = None) -> m.Upload | None:
        with self.Session() as s:
            up = s.get(m.Upload, upload_id)
            if up is None or (owner is not None and up.owner != owner):
                return None
            return up

    def delete_upload(self, upload_id: str) -> None:
        with self._write() as s:
            s.execute(delete(m.Upload).where(m.Upload.id == upload_id))

    def job_uploads(self, job_id: str) -> list[m.Upload]:
        """Uploads made from a job's own request (they are deleted with the job)."""
        with self.Session() as s:
            return list(s.scalars(select(m.Upload).where(m.Upload.job_id == job_id)))

    def upload_ids(self) -> set[str]:
        with self.Session() as s:
            return set(s.scalars(select(m.Upload.id)))

    # -- per-owner webhook secrets ------------------------------------------------
    def owner_secret(self, owner: str) -> m.OwnerSecret:
        """The owner's signing secret, created on first use."""
        with self.Session() as s:
            row = s.get(m.OwnerSecret, owner)
            if row is not None:
                return row
        row = m.OwnerSecret(owner=owner, secret="whsec_" + secrets.token_hex(32), previous=None,
                            rotated_at=time.time())
        try:
            with self._write() as s:
                s.add(row)
        except IntegrityError:  # another request created it first
            with self.Session() as s:
                return s.get(m.OwnerSecret, owner)
        return row

    def rotate_owner_secret(self, owner: str) -> m.OwnerSecret:
        """A new secret; the old one stays valid (sent as a second signature) for a while."""
        old = self.owner_secret(owner)
        new = "whsec_" + secrets.token_hex(32)
        now = time.time()
        with self._write() as s:
            s.execute(update(m.OwnerSecret).where(m.OwnerSecret.owner == owner)
                      .values(secret=new, previous=old.secret, rotated_at=now))
        return m.OwnerSecret(owner=owner, secret=new, previous=old.secret, rotated_at=now)

    # -- API keys ---------------------------------------------------------------
    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def create_key(self, name: str, owner: str | None = None) -> tuple[m.ApiKey, str]:
        """Create a key; the secret is returned once and only its hash is stored."""
        secret = "rsk_" + secrets.token_urlsafe(32)
        row = m.ApiKey(id=new_id()[:12], name=name, owner=owner or name, prefix=secret[:10],
                       key_hash=self.hash_key(secret), created_at=time.time(),
                       revoked_at=None, last_used_at=None)
        with self._write() as s:
            s.add(row)
        return row, secret

    def list_keys(self) -> list[m.ApiKey]:
        with self.Session() as s:
            return list(s.scalars(select(m.ApiKey).order_by(m.ApiKey.created_at)))

    def revoke_key(self, key_id_or_prefix: str) -> bool:
        now = time.time()
        stmt = (update(m.ApiKey)
                .where((m.ApiKey.id == key_id_or_prefix) | (m.ApiKey.prefix == key_id_or_prefix)
                       | (m.ApiKey.name == key_id_or_prefix), m.ApiKey.revoked_at.is_(None))
                .values(revoked_at=now))
        with self._write() as s:
            return s.execute(stmt).rowcount > 0

    def active_key_count(self) -> int:
        with self.Session() as s:
            return int(s.scalar(select(func.count()).select_from(m.ApiKey)
                                .where(m.ApiKey.revoked_at.is_(None))) or 0)

    def active_key(self, key_id: str) -> m.ApiKey | None:
        """The key with this id, unless it was revoked."""
        with self.Session() as s:
            row = s.get(m.ApiKey, key_id)
            return row if row is not None and row.revoked_at is None else None

    def lookup_key(self, secret: str) -> m.ApiKey | None:
        with self.Session() as s:
            row = s.scalar(select(m.ApiKey).where(m.ApiKey.key_hash == self.hash_key(secret)))
            if row is None or row.revoked_at is not None:
                return None
            return row

    # -- webhook deliveries -----------------------------------------------------
    def record_delivery(self, job_id: str, url: str, event: str, attempt: int, ok: bool,
                        status_code: int | None, error: str | None) -> None:
        with self._write() as s:
            s.add(m.WebhookDelivery(job_id=job_id, url=url, event=event, attempt=attempt, ok=ok,
                                    status_code=status_code, error=error, at=time.time()))

    def deliveries(self, job_id: str) -> list[m.WebhookDelivery]:
        with self.Session() as s:
            return list(s.scalars(select(m.WebhookDelivery)
                                  .where(m.WebhookDelivery.job_id == job_id)
                                  .order_by(m.WebhookDelivery.id)))

    # -- metrics (read-only) ----------------------------------------------------
    def duration_histogram(self, bounds: Iterable[float]) -> tuple[list[int], int, float]:
        """Run time (finished_at - started_at) of finished jobs, counted in SQL.

        Returns (cumulative count at or below each bound, total count, total seconds): the
        shape of a Prometheus histogram without its +Inf bucket (that is the total count).
        """
        from sqlalchemy import case

        dur = m.Job.finished_at - m.Job.started_at
        bounds = list(bounds)
        cols = [func.coalesce(func.sum(case((dur <= b, 1), else_=0)), 0) for b in bounds]
        q = (select(func.count(), func.coalesce(func.sum(dur), 0.0), *cols)
             .where(m.Job.status.in_(list(m.FINISHED)), m.Job.started_at.is_not(None),
                    m.Job.finished_at.is_not(None)))
        with self.Session() as s:
            row = s.execute(q).one()
        return [int(v) for v in row[2:]], int(row[0]), float(row[1])
