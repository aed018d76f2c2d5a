"""The janitor: crash leftovers go, live files stay, retention by age and by size.

Real SQLite job store, real files with back-dated mtimes, and a real ``reelsmith serve``
subprocess killed with SIGKILL mid-upload and mid-job, then restarted.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from jobs_testkit import free_port, wait_for

from reelsmith.config import reset_settings
from reelsmith.jobs import models as m

ROOT = Path(__file__).resolve().parent.parent
OLD = 120.0  # seconds: older than the janitor's one-minute grace


def _store():
    from reelsmith.jobs.store import JobStore

    return JobStore()


def _write(path: Path, size: int = 10, *, age: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    _age(path, age)
    return path


def _age(path: Path, age: float) -> None:
    if age:
        t = time.time() - age
        os.utime(path, (t, t))


def _upload_row(store, upload_id: str, path: Path) -> None:  # noqa: ANN001
    store.add_upload(m.Upload(id=upload_id, owner="o", filename=path.name, path=str(path),
                              size_bytes=path.stat().st_size, kind="image", media={},
                              created_at=time.time()))


def test_sweep_removes_leftovers_and_keeps_live_files(tmp_path):
    from reelsmith.jobs import artifacts, janitor
    from reelsmith.jobs.store import new_id

    store = _store()
    data = tmp_path / "data"
    live = store.create_job(owner="o", workflow="test_sleep", params={}, inputs={})
    live = store.claim(live.id, "local-x")  # running, attempt 1
    dead = new_id()
    keep = [
        _write(artifacts.work_dir(live.id, 1) / "frame.png"),  # the running attempt
        _write(data / "work" / f"job-{live.id[:12]}-abc" / "in.mp4", age=OLD),  # its handler dir
        _write(data / "work" / "not-ours" / "f"),  # a name we do not make: left alone
        _write(data / "uploads" / new_id() / ".part-0-aaaa"),  # an upload streaming now
        _write(data / "artifacts" / dead / "video.mp4", age=OLD),  # a finished output
    ]
    up_id = new_id()
    known = _write(data / "uploads" / up_id / "clip.png", age=OLD)
    _upload_row(store, up_id, known)
    keep.append(known)
    gone = [
        _write(artifacts.work_dir(live.id, 0) / "old-attempt.png"),  # an earlier attempt
        _write(artifacts.work_dir(dead, 2) / "frame.png", 1000),  # no such running job
        _write(data / "work" / "job-0123456789ab-xyz" / "in.mp4", age=OLD),  # handler, dead
        _write(data / "uploads" / up_id / ".part-1-bbbb", 500, age=OLD),  # interrupted part
        _write(data / "artifacts" / dead / ".video.partial-1a2b3c4d.mp4", 700, age=OLD),
        _write(data / "artifacts" / dead / ".report.json.partial", age=OLD),
    ]
    _age(data / "work" / "job-0123456789ab-xyz", OLD)
    orphan = new_id()
    gone.append(_write(data / "uploads" / orphan / ".part-0-cccc", 300, age=OLD))
    _age(data / "uploads" / orphan, OLD)

    counts = janitor.sweep(store)

    assert [p for p in keep if not p.exists()] == []
    assert [p for p in gone if p.exists()] == []
    assert not (data / "uploads" / orphan).exists()
    assert not artifacts.work_dir(dead, 2).exists()
    assert counts["work_dirs"] == 3 and counts["partial_files"] == 3
    assert counts["orphan_uploads"] == 1
    assert counts["bytes_freed"] >= 1000 + 500 + 700 + 300
    assert janitor.sweep(store)["bytes_freed"] == 0  # nothing left to do


def _finished_job(store, size: int, published: Path | None = None):  # noqa: ANN001, ANN202
    from reelsmith.jobs import artifacts

    job = store.create_job(owner="o", workflow="test_sleep", params={}, inputs={})
    store.claim(job.id, "w")
    _write(artifacts.artifacts_dir(job.id) / "report.json", size)
    store.finish(job.id, "w", m.COMPLETED, result={"outputs": {}})
    if published is not None:
        _write(published, size)
        store.set_published(job.id, {"report": str(published)})
    time.sleep(0.01)  # distinct finished_at
    return job


def test_retention_by_size_expires_oldest_first_and_keeps_newest(tmp_path, monkeypatch):
    from reelsmith.jobs import artifacts, janitor
    from reelsmith.jobs.store import new_id

    monkeypatch.setenv("REELSMITH_RETENTION_MAX_BYTES", "250000")
    reset_settings()
    store = _store()
    copy = tmp_path / "volume" / "oldest_report.json"
    up_id = new_id()
    up = _write(tmp_path / "data" / "uploads" / up_id / "in.png", 100_000, age=OLD)
    _age(up.parent, OLD)
    _upload_row(store, up_id, up)
    jobs = [_finished_job(store, 100_000, published=copy if i == 0 else None) for i in range(3)]
    # 400 kB stored (3 jobs + 1 upload) > 250 kB: the two oldest jobs go, newest + upload stay.
    counts = janitor.sweep(store)
    assert counts["expired_jobs"] == 2 and counts["expired_uploads"] == 0
    assert counts["published_files"] == 1 and not copy.exists()
    assert [store.get(j.id).artifacts_expired for j in jobs] == [True, True, False]
    assert [artifacts.artifacts_dir(j.id).exists() for j in jobs] == [False, False, True]
    assert store.get(jobs[0].id).published == {}
    assert up.exists() and janitor.stored_bytes() <= 250_000

    # A cap below the newest job: it goes too, then the (old, unused) upload.
    monkeypatch.setenv("REELSMITH_RETENTION_MAX_BYTES", "50000")
    reset_settings()
    counts = janitor.sweep(store)
    assert counts["expired_jobs"] == 1 and counts["expired_uploads"] == 1
    assert not up.exists() and store.get(jobs[2].id).artifacts_expired


def test_retention_by_size_keeps_uploads_of_queued_jobs(tmp_path, monkeypatch):
    from reelsmith.jobs import janitor
    from reelsmith.jobs.store import new_id

    monkeypatch.setenv("REELSMITH_RETENTION_MAX_BYTES", "1000")
    reset_settings()
    store = _store()
    up_id = new_id()
    up = _write(tmp_path / "data" / "uploads" / up_id / "in.png", 50_000, age=OLD)
    _age(up.parent, OLD)
    _upload_row(store, up_id, up)
    store.create_job(owner="o", workflow="test_copy", params={},
                     inputs={"video": {"type": "upload", "upload_id": up_id}})
    assert janitor.sweep(store)["expired_uploads"] == 0 and up.exists()


def test_retention_by_age_expires_jobs_and_published_copies(tmp_path, monkeypatch):
    from reelsmith.jobs import artifacts, janitor

    monkeypatch.setenv("REELSMITH_RETENTION_DAYS", "1")
    reset_settings()
    store = _store()
    copy = tmp_path / "volume" / "x_report.json"
    job = _finished_job(store, 10, published=copy)
    assert janitor.sweep(store)["expired_jobs"] == 0 and copy.exists()
    counts = janitor.sweep(store, now=time.time() + 2 * 86400)
    assert counts["expired_jobs"] == 1 and counts["published_files"] == 1
    assert not copy.exists() and not artifacts.artifacts_dir(job.id).exists()
    assert store.get(job.id).artifacts_expired


def test_runner_sweeps_periodically_and_stops_with_it(tmp_path, monkeypatch):
    from reelsmith.jobs.runner import LocalRunner

    monkeypatch.setenv("REELSMITH_JANITOR_INTERVAL_S", "0.2")
    reset_settings()
    store = _store()
    runner = LocalRunner(store, concurrency=1)
    runner.start()
    try:
        late = _write(tmp_path / "data" / "artifacts" / ("a" * 32) / ".v.partial-00000000.mp4",
                      age=OLD)
        wait_for(lambda: not late.exists(), timeout=10)
    finally:
        runner.stop()
    assert not any(t.name == "reelsmith-janitor" and t.is_alive() for t in threading.enumerate())


# -- a real server killed with SIGKILL ---------------------------------------------------
def _serve(port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reelsmith.cli", "serve", "--port", str(port), "--workers", "1",
         "--import", "jobs_testkit", "--log-level", "info"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=60, interval=0.2)
    return proc


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_sigkill_mid_upload_and_mid_job_leftovers_go_at_restart(tmp_path):
    data = tmp_path / "data"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"), REELSMITH_DATA_DIR=str(data),
               REELSMITH_JANITOR_INTERVAL_S="0")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(port, env)
    sock = None
    try:
        job = httpx.post(url + "/api/v1/jobs", timeout=10, json={
            "workflow": "test_sleep", "params": {"seconds": 30, "steps": 300}}).json()
        wait_for(lambda: httpx.get(f"{url}/api/v1/jobs/{job['id']}", timeout=5).json()
                 ["progress"] > 0.01, timeout=30)
        # An upload that streams half its body and then the server dies.
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        head = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n"
                b"Content-Type: video/mp4\r\n\r\n")
        sock.sendall(b"POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: multipart/form-data; boundary=B\r\n"
                     b"Content-Length: 10000000\r\n\r\n" + head + b"\0" * 200_000)
        parts = wait_for(lambda: list((data / "uploads").glob("*/.part-*")), timeout=20)
        work = wait_for(lambda: list((data / "work").glob(f"{job['id']}-*")), timeout=20)
    finally:
        _stop(proc, signal.SIGKILL)
        if sock is not None:
            sock.close()
    assert parts and work
    # The crash was "a while ago": past the one-minute grace of partial uploads.
    for p in parts:
        _age(p, OLD)
        _age(p.parent, OLD)
    proc = _serve(port, env)
    try:
        assert [p for p in parts if p.parent.exists()] == []
        assert [w for w in work if w.exists()] == []
        # The interrupted job runs again (attempt 2) in a fresh work dir; cancel it.
        httpx.post(f"{url}/api/v1/jobs/{job['id']}/cancel", timeout=10)
    finally:
        _stop(proc)
