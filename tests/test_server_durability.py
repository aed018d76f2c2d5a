"""A real `reelsmith serve` subprocess killed with SIGKILL mid-job loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from jobs_testkit import free_port, wait_for

from mediagen import make_image

ROOT = Path(__file__).resolve().parent.parent


def _start(port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reelsmith.cli", "serve", "--port", str(port), "--workers", "1",
         "--import", "jobs_testkit", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        try:
            return httpx.get(url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=60, interval=0.2)
    return proc


def test_sigkill_mid_job_then_restart_completes(tmp_path, media_dir):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"),
               REELSMITH_DATA_DIR=str(tmp_path / "data"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(port, env)
    try:
        png = make_image(media_dir / "dur.png", 32, 32)
        up = httpx.post(url + "/api/v1/uploads",
                        files={"file": ("d.png", png.read_bytes(), "image/png")}).json()
        first = httpx.post(url + "/api/v1/jobs", json={"workflow": "test_copy",
                                                       "inputs": {"video": up["id"]}}).json()
        wait_for(lambda: httpx.get(f"{url}/api/v1/jobs/{first['id']}").json()["status"]
                 == "completed")
        job = httpx.post(url + "/api/v1/jobs", json={
            "workflow": "test_sleep", "params": {"seconds": 3, "steps": 30, "label": "k"}}).json()
        wait_for(lambda: httpx.get(f"{url}/api/v1/jobs/{job['id']}").json()["progress"] > 0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc = _start(port, env)
    try:
        done = wait_for(lambda: (j := httpx.get(f"{url}/api/v1/jobs/{job['id']}").json())
                        ["status"] in ("completed", "failed") and j, timeout=60)
        assert done["status"] == "completed", done
        assert done["attempts"] == 2
        report = httpx.get(url + done["outputs"]["report"]).json()
        assert report["label"] == "k"
        # the finished artifact and the upload from before the crash are intact
        art = httpx.get(f"{url}/api/v1/jobs/{first['id']}/artifacts/video")
        assert art.status_code == 200 and art.content == png.read_bytes()
        assert httpx.get(f"{url}/api/v1/uploads/{up['id']}").json()["size_bytes"] \
            == png.stat().st_size
        leftovers = [p.name for p in (tmp_path / "data" / "artifacts").rglob("*")
                     if ".partial" in p.name]
        assert leftovers == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
