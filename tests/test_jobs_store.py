"""The job store: migrations, exactly-once claims, priorities, re-queue and attempt limits,
retention."""

from __future__ import annotations

import threading
import time

from jobs_testkit import wait_for  # noqa: F401 - registers the test workflows

from reelsmith.config import reset_settings
from reelsmith.jobs import models as m


def _store():
    from reelsmith.jobs.store import JobStore

    return JobStore()


def test_migrations_at_head():
    from alembic.migration import MigrationContext

    store = _store()
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == "0002"
    from reelsmith.jobs.db import migrate

    migrate(store.engine)  # idempotent


def test_claims_are_exclusive_under_contention():
    store = _store()
    ids = {store.create_job(owner="o", workflow="test_sleep", params={}, inputs={}).id
           for _ in range(30)}
    got: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        while (job := store.claim_next(f"w{n}")) is not None:
            with lock:
                got.append(job.id)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(ids)  # every job once, none twice


def test_priority_then_age():
    store = _store()
    a = store.create_job(owner="o", workflow="w", params={}, inputs={}, priority=0)
    b = store.create_job(owner="o", workflow="w", params={}, inputs={}, priority=5)
    c = store.create_job(owner="o", workflow="w", params={}, inputs={}, priority=0)
    order = [store.claim_next("x").id for _ in range(3)]
    assert order == [b.id, a.id, c.id]


def test_requeue_interrupted_counts_attempts_and_fails_at_limit(monkeypatch):
    monkeypatch.setenv("REELSMITH_JOB_MAX_ATTEMPTS", "2")
    reset_settings()
    store = _store()
    job = store.create_job(owner="o", workflow="w", params={}, inputs={})
    assert store.claim(job.id, "local-1").attempts == 1
    requeued, failed = store.requeue_interrupted()
    assert requeued == [job.id] and store.get(job.id).status == m.QUEUED
    assert store.claim(job.id, "local-2").attempts == 2
    assert not store.finish(job.id, "local-1", m.COMPLETED, result={})  # stale claimant
    requeued, failed = store.requeue_interrupted()
    assert failed == [job.id]
    j = store.get(job.id)
    assert j.status == m.FAILED and "attempt limit" in j.error


def test_stale_heartbeat_only():
    store = _store()
    job = store.create_job(owner="o", workflow="w", params={}, inputs={})
    store.claim(job.id, "celery-a")
    assert store.requeue_interrupted(stale_before=time.time() - 30) == ([], [])
    assert store.requeue_interrupted(stale_before=time.time() + 1) == ([job.id], [])


def test_cancel_queued_and_flag_running():
    store = _store()
    q = store.create_job(owner="o", workflow="w", params={}, inputs={})
    assert store.request_cancel(q.id) == m.CANCELLED
    r = store.create_job(owner="o", workflow="w", params={}, inputs={})
    store.claim(r.id, "w1")
    assert store.request_cancel(r.id) == m.RUNNING
    assert store.heartbeat(r.id, "w1") is True
    assert store.heartbeat(r.id, "w2") is None


def test_local_runner_runs_and_recovers():
    from reelsmith.jobs.events import ProgressHub
    from reelsmith.jobs.runner import LocalRunner

    store = _store()
    stuck = store.create_job(owner="o", workflow="test_sleep", params={"label": "s"}, inputs={})
    store.claim(stuck.id, "local-dead")  # a crashed process held it
    fresh = store.create_job(owner="o", workflow="test_sleep", params={}, inputs={})
    seen: list[dict] = []
    hub = ProgressHub()
    hub.subscribe(fresh.id, seen.append)
    runner = LocalRunner(store, hub, concurrency=2, poll_s=0.1)
    runner.start()
    try:
        wait_for(lambda: store.get(stuck.id).status == m.COMPLETED
                 and store.get(fresh.id).status == m.COMPLETED)
    finally:
        runner.stop()
    assert store.get(stuck.id).attempts == 2
    assert seen[-1]["status"] == m.COMPLETED and any(s["status"] == m.RUNNING for s in seen)


def test_retention_removes_old_artifacts(monkeypatch):
    from reelsmith.jobs import artifacts, janitor

    monkeypatch.setenv("REELSMITH_RETENTION_DAYS", "1")
    reset_settings()
    store = _store()
    job = store.create_job(owner="o", workflow="w", params={}, inputs={})
    store.claim(job.id, "w")
    d = artifacts.artifacts_dir(job.id)
    d.mkdir(parents=True)
    (d / "video.mp4").write_bytes(b"x")
    store.finish(job.id, "w", m.COMPLETED, result={"outputs": {}})
    assert janitor.apply_retention(store) == 0
    assert janitor.apply_retention(store, now=time.time() + 2 * 86400) == 1
    assert not d.exists() and store.get(job.id).artifacts_expired
