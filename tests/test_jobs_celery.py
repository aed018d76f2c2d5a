"""Scale-out: two `reelsmith worker` processes (Celery on Redis, PostgreSQL job store)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jobs_services import CeleryWorker
from jobs_testkit import wait_for

from reelsmith.config import reset_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def cluster(services, tmp_path, monkeypatch):
    import redis

    redis.Redis.from_url(services.redis_url).flushdb()
    db_url = services.fresh_database()
    env_vars = {"REELSMITH_BROKER_URL": services.redis_url, "REELSMITH_DATABASE_URL": db_url,
                "REELSMITH_JOB_LEASE_S": "3"}
    for k, v in env_vars.items():
        monkeypatch.setenv(k, v)
    reset_settings()
    from reelsmith.jobs import celery_app

    celery_app.get_app.cache_clear()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"))
    workers = [CeleryWorker("w1", env), CeleryWorker("w2", env)]
    try:
        for w in workers:
            w.wait_ready()
        from reelsmith.server.app import create_app

        with TestClient(base_url="http://127.0.0.1", app=create_app()) as client:
            yield client, workers
    finally:
        for w in workers:
            w.stop()
        from reelsmith.jobs.db import dispose_all

        dispose_all()
        celery_app.get_app.cache_clear()


def test_twenty_jobs_complete_exactly_once_on_two_workers(cluster, tmp_path):
    client, workers = cluster
    assert client.get("/api/v1/system/stats").json()["execution"] == "celery"
    markers = tmp_path / "markers"
    markers.mkdir()
    ids = [client.post("/api/v1/jobs", json={"workflow": "test_sleep", "params": {
        "seconds": 0.3, "steps": 3, "label": f"j{i}", "marker_dir": str(markers)}}).json()["id"]
        for i in range(20)]

    def all_done():
        jobs = [client.get(f"/api/v1/jobs/{j}").json() for j in ids]
        return jobs if all(j["status"] in ("completed", "failed") for j in jobs) else None

    jobs = wait_for(all_done, timeout=120, interval=0.3)
    assert [j["status"] for j in jobs] == ["completed"] * 20
    assert all(j["attempts"] == 1 for j in jobs)
    runs = sorted(p.name.split("-")[0] for p in markers.iterdir())
    assert runs == sorted(f"j{i}" for i in range(20))  # each ran exactly once
    pids = {client.get(f"/api/v1/jobs/{j}/result").json()["metadata"]["pid"] for j in ids}
    assert pids == {w.proc.pid for w in workers}  # both workers took part


def test_killed_worker_hands_job_to_the_other(cluster, tmp_path):
    client, workers = cluster
    job = client.post("/api/v1/jobs", json={"workflow": "test_sleep", "params": {
        "seconds": 4, "steps": 40, "label": "kill"}}).json()
    running = wait_for(lambda: (j := client.get(f"/api/v1/jobs/{job['id']}").json())
                       ["progress"] > 0.1 and j, timeout=60)
    victim = next(w for w in workers if f"-{w.proc.pid}-" in (
        client.app.state.rs.store.get(job["id"]).worker_id or ""))
    survivor = next(w for w in workers if w is not victim)
    assert running["status"] == "running"
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    done = wait_for(lambda: (j := client.get(f"/api/v1/jobs/{job['id']}").json())
                    ["status"] in ("completed", "failed") and j, timeout=90, interval=0.3)
    assert done["status"] == "completed", done
    assert done["attempts"] == 2
    res = client.get(f"/api/v1/jobs/{job['id']}/result").json()
    assert res["metadata"]["pid"] == survivor.proc.pid


def test_cancel_reaches_a_remote_worker(cluster):
    client, _ = cluster
    job = client.post("/api/v1/jobs", json={"workflow": "test_sleep", "params": {
        "seconds": 60, "steps": 600}}).json()
    wait_for(lambda: client.get(f"/api/v1/jobs/{job['id']}").json()["progress"] > 0.01,
             timeout=60)
    r = client.post(f"/api/v1/jobs/{job['id']}/cancel").json()
    assert r["status"] == "cancelled"
    states = []
    with client.stream("GET", f"/api/v1/jobs/{job['id']}/events") as s:
        for line in s.iter_lines():
            if line.startswith("data: "):
                states.append(line)
    assert '"cancelled"' in states[0]
