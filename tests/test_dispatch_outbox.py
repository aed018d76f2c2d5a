"""The dispatch outbox: a job committed but never sent to the broker (the server died in
between), or whose message was lost, is sent by the reaper and runs exactly once.

Real Redis, real PostgreSQL and a real ``reelsmith worker`` subprocess (Celery).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from jobs_services import CeleryWorker
from jobs_testkit import wait_for
from sqlalchemy import update

from reelsmith.config import reset_settings
from reelsmith.jobs import models as m

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def celery_env(services, monkeypatch):
    import redis

    redis.Redis.from_url(services.redis_url).flushdb()
    for k, v in {"REELSMITH_BROKER_URL": services.redis_url,
                 "REELSMITH_DATABASE_URL": services.fresh_database(),
                 "REELSMITH_JOB_LEASE_S": "3", "REELSMITH_DISPATCH_GRACE_S": "1"}.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    from reelsmith.jobs import celery_app

    celery_app.get_app.cache_clear()
    try:
        yield
    finally:
        from reelsmith.jobs.db import dispose_all

        dispose_all()
        celery_app.get_app.cache_clear()


def _sleep_job(store, label: str, markers: Path):  # noqa: ANN001, ANN202
    return store.create_job(owner="o", workflow="test_sleep", inputs={}, params={
        "seconds": 0.1, "steps": 2, "label": label, "marker_dir": str(markers)})


def test_undispatched_and_lost_jobs_are_sent_and_run_exactly_once(celery_env, tmp_path):
    from reelsmith.jobs.store import JobStore

    store = JobStore()
    markers = tmp_path / "markers"
    markers.mkdir()
    # As after a crash between commit and send: rows only, nothing on the broker.
    never = [_sleep_job(store, f"never{i}", markers) for i in range(6)]
    # Marked as sent long ago, but the message is gone (e.g. the broker lost it).
    lost = _sleep_job(store, "lost", markers)
    store.mark_dispatched(lost.id)
    with store.Session.begin() as s:
        s.execute(update(m.Job).where(m.Job.id == lost.id)
                  .values(dispatched_at=time.time() - 3600))
    ids = [j.id for j in never] + [lost.id]
    assert all(store.get(j).dispatched_at is None for j in ids[:-1])

    with CeleryWorker("outbox", dict(os.environ, PYTHONPATH=str(ROOT / "tests")), concurrency=2):
        def all_done():
            jobs = [store.get(j) for j in ids]
            return jobs if all(j.status in m.FINISHED for j in jobs) else None

        jobs = wait_for(all_done, timeout=90, interval=0.2)
        time.sleep(2.0)  # a duplicate message, if any, would run by now
    assert [j.status for j in jobs] == [m.COMPLETED] * len(ids)
    assert all(j.attempts == 1 for j in jobs)
    # (dispatched_at may stay NULL: a worker can claim the job before the send is recorded,
    # and the outbox only tracks queued jobs.)
    runs = sorted(p.name.split("-")[0] for p in markers.iterdir())
    assert runs == sorted([f"never{i}" for i in range(6)] + ["lost"])  # each ran once


def test_server_submit_marks_the_job_dispatched(celery_env, tmp_path):
    from fastapi.testclient import TestClient

    from reelsmith.server.app import create_app

    markers = tmp_path / "markers"
    markers.mkdir()
    with TestClient(create_app(), base_url="http://127.0.0.1") as client:
        r = client.post("/api/v1/jobs", json={"workflow": "test_sleep", "params": {
            "seconds": 0.1, "steps": 2, "label": "api", "marker_dir": str(markers)}})
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        store = client.app.state.rs.store
        job = store.get(job_id)  # no worker yet: still queued, its message recorded as sent
        assert job.status == m.QUEUED and job.dispatched_at is not None
        assert store.undispatched(created_before=time.time() + 60) == []
        with CeleryWorker("outbox", dict(os.environ, PYTHONPATH=str(ROOT / "tests")), concurrency=2):
            wait_for(lambda: store.get(job_id).status in m.FINISHED, timeout=60, interval=0.2)
            assert store.get(job_id).status == m.COMPLETED
            time.sleep(1.5)
    assert [p.name.split("-")[0] for p in markers.iterdir()] == ["api"]
