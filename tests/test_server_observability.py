"""Observability: redacted text/JSON logs of a real ``reelsmith serve``, /metrics, offline /docs."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from jobs_testkit import free_port, wait_for

TESTS = Path(__file__).parent


# -- logs: unit level -------------------------------------------------------------------------
def test_redact_hides_keys_tokens_and_passwords():
    from reelsmith.logs import redact

    line = ('GET /api/v1/jobs?token=rsk_AbC-123&x=1 Authorization: Bearer secretvalue '
            'https://bob:hunter2@example.com/v.mp4 /r/1?access=rsl_zzz&y=2 key rsk_other')
    out = redact(line)
    for secret in ("rsk_", "rsl_", "secretvalue", "hunter2", "AbC-123"):
        assert secret not in out
    assert "x=1" in out and "y=2" in out and "bob:[redacted]@example.com" in out
    assert redact("nothing to see here") == "nothing to see here"


def test_filter_redacts_access_log_arguments_and_extras(capsys):
    from reelsmith.logs import RedactFilter, configure_logging

    handler = configure_logging("info", "json", replace=False)
    access = logging.getLogger("uvicorn.access")
    level, disabled = access.level, access.disabled
    access.setLevel(logging.INFO)  # an earlier in-process uvicorn may have set WARNING
    access.disabled = False
    try:
        assert any(isinstance(f, RedactFilter) for f in access.filters)
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/api/v1/jobs?token=rsk_leak", "1.1", 200)
        logging.getLogger("reelsmith.test").warning("download of %s failed", "https://u:pw@h/x",
                                                    extra={"job_id": "j1", "error": "key rsk_leak2"})
    finally:
        logging.getLogger().removeHandler(handler)
        access.setLevel(level)
        access.disabled = disabled
    lines = [json.loads(ln) for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert lines[0]["logger"] == "uvicorn.access" and "token=[redacted]" in lines[0]["message"]
    assert lines[1]["job_id"] == "j1" and lines[1]["level"] == "WARNING"
    assert "pw" not in lines[1]["message"] and "rsk_" not in json.dumps(lines)


# -- logs: a real server ----------------------------------------------------------------------
def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reelsmith.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def _serve_and_collect(tmp_path: Path, fmt: str) -> tuple[str, str, dict[str, str]]:
    """Run a server with one API key, make requests that carry the key, run two jobs, stop it.

    Returns (the key, the server's stderr, {"ok": job id, "bad": job id}).
    """
    env = dict(os.environ)
    env.update({"REELSMITH_DATA_DIR": str(tmp_path / "data"), "REELSMITH_LOG_FORMAT": fmt,
                "PYTHONPATH": os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH", "")) if p)})
    env.pop("REELSMITH_CONFIG", None)
    made = _cli(env, "keys", "create", "ops")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("rsk_")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / f"server-{fmt}.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "reelsmith.cli", "serve", "--port", str(port),
                                 "--workers", "1", "--import", "jobs_testkit"],
                                env=env, stdout=subprocess.DEVNULL, stderr=log_file)
        try:
            def up() -> bool:
                assert proc.poll() is None, log_path.read_text()
                try:
                    return httpx.get(f"{base}/health", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(up, timeout=60, interval=0.2)
            auth = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
                # whether ?token= is accepted on plain requests is auth's business; it must not be logged
                assert c.get(f"/api/v1/jobs?token={key}").status_code in (200, 401)
                assert c.get("/api/v1/jobs", headers=auth).status_code == 200
                assert c.get("/api/v1/jobs?token=rsk_wrong").status_code == 401
                jobs = {}
                for name, params in (("ok", {"label": "fine"}), ("bad", {"fail": True})):
                    r = c.post("/api/v1/jobs", headers=auth, json={"workflow": "test_sleep", "params": params})
                    assert r.status_code < 300, r.text
                    jobs[name] = r.json()["id"]
                for job_id in jobs.values():
                    wait_for(lambda jid=job_id: c.get(f"/api/v1/jobs/{jid}", headers=auth).json()["status"]
                             in ("completed", "failed"), timeout=60, interval=0.1)
                metrics = c.get("/metrics", headers=auth)
                assert metrics.status_code == 200 and 'reelsmith_jobs{status="completed"} 1' in metrics.text
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    time.sleep(0.1)
    return key, log_path.read_text(), jobs


def test_text_log_has_lifecycle_lines_and_no_secrets(tmp_path):
    key, log, jobs = _serve_and_collect(tmp_path, "text")
    assert "rsk_" not in log and key[4:] not in log
    assert "token=[redacted]" in log  # the access log line of the ?token= request
    started = [ln for ln in log.splitlines() if "job started" in ln]
    finished = [ln for ln in log.splitlines() if "job finished" in ln]
    assert any(f"job_id={jobs['ok']}" in ln and "owner=ops" in ln for ln in started)
    ok = next(ln for ln in finished if f"job_id={jobs['ok']}" in ln)
    assert "status=completed" in ok and "workflow=test_sleep" in ok and re.search(r"seconds=\d", ok)
    bad = next(ln for ln in finished if f"job_id={jobs['bad']}" in ln)
    assert "WARNING" in bad and "status=failed" in bad and "asked to fail" in bad
    assert "Traceback" not in log


def test_json_log_every_line_parses(tmp_path):
    key, log, jobs = _serve_and_collect(tmp_path, "json")
    assert "rsk_" not in log
    lines = [json.loads(ln) for ln in log.splitlines() if ln.strip()]  # every line is JSON
    assert all({"ts", "level", "logger", "message"} <= set(obj) for obj in lines)
    finished = {o["job_id"]: o for o in lines if o.get("event") == "job.finished"}
    assert finished[jobs["ok"]]["status"] == "completed" and finished[jobs["ok"]]["owner"] == "ops"
    assert isinstance(finished[jobs["ok"]]["seconds"], int | float) and "error" not in finished[jobs["ok"]]
    assert finished[jobs["bad"]]["status"] == "failed" and "asked to fail" in finished[jobs["bad"]]["error"]
    assert any(o.get("event") == "job.started" and o["job_id"] == jobs["ok"] for o in lines)
    assert any(o["logger"] == "uvicorn.access" and "token=[redacted]" in o["message"] for o in lines)


# -- /metrics ---------------------------------------------------------------------------------
def _client(app) -> TestClient:  # noqa: ANN001
    return TestClient(app, base_url="http://127.0.0.1")


def test_metrics_exposition(tmp_path):
    from reelsmith.config import get_settings
    from reelsmith.jobs.store import JobStore
    from reelsmith.server.app import create_app

    store = JobStore()
    durations = (0.5, 3.0, 100.0, 9000.0)
    for d in durations:
        job = store.create_job(owner="local", workflow="test_sleep", params={}, inputs={})
        assert store.claim(job.id, "w")
        assert store.finish(job.id, "w", "completed", result={}, error=None, error_code=None)
        store._update(job.id, started_at=1000.0, finished_at=1000.0 + d)
    running = store.create_job(owner="local", workflow="test_sleep", params={}, inputs={})
    store.claim(running.id, "w")  # running: not in the histogram
    art = Path(get_settings().data_dir) / "artifacts" / "x"
    art.mkdir(parents=True)
    (art / "out.bin").write_bytes(b"\0" * 1000)
    with _client(create_app(run_jobs=False)) as c:
        for _ in range(2):
            assert c.post("/api/v1/jobs", json={"workflow": "test_sleep"}).status_code < 300
        r = c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    samples = dict(ln.rsplit(" ", 1) for ln in text.splitlines() if ln and not ln.startswith("#"))
    assert samples['reelsmith_jobs{status="completed"}'] == "4"
    assert samples['reelsmith_jobs{status="running"}'] == "1"
    assert samples['reelsmith_jobs{status="queued"}'] == "2" and samples["reelsmith_queue_depth"] == "2"
    expected = {"1": 1, "5": 2, "15": 2, "60": 2, "300": 3, "1800": 3, "7200": 3, "+Inf": 4}
    for le, n in expected.items():
        assert samples[f'reelsmith_job_seconds_bucket{{le="{le}"}}'] == str(n), le
    assert samples["reelsmith_job_seconds_count"] == "4"
    assert float(samples["reelsmith_job_seconds_sum"]) == pytest.approx(sum(durations))
    assert samples["reelsmith_bytes_stored"] == "1000"
    assert float(samples["reelsmith_uptime_seconds"]) >= 0
    from reelsmith import __version__

    assert samples[f'reelsmith_build_info{{version="{__version__}"}}'] == "1"
    assert "# TYPE reelsmith_job_seconds histogram" in text


def test_metrics_need_a_key_when_auth_is_on():
    from reelsmith.jobs.store import JobStore
    from reelsmith.server.app import create_app

    _row, key = JobStore().create_key("mon")
    with _client(create_app(run_jobs=False)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_bytes_stored_is_cached(tmp_path):
    from reelsmith.config import get_settings
    from reelsmith.server.metrics import bytes_stored

    up = Path(get_settings().data_dir) / "uploads" / "u1"
    up.mkdir(parents=True)
    (up / "a.bin").write_bytes(b"1" * 10)
    assert bytes_stored(now=100.0) == 10
    (up / "b.bin").write_bytes(b"1" * 5)
    assert bytes_stored(now=110.0) == 10  # within 30 s: the cached value
    assert bytes_stored(now=131.0) == 15


# -- offline /docs and /redoc -----------------------------------------------------------------
_URL_RE = re.compile(r"""(?:src|href)=["']([^"']+)["']|(?:url|_url)\s*:\s*["']([^"']+)["']""")


def _asset_urls(html: str) -> list[str]:
    """Every URL a page loads or points at (script/link attributes and JS url options)."""
    return [a or b for a, b in _URL_RE.findall(html)]


@pytest.mark.parametrize(("page", "kinds"), [("/docs", {"js", "css"}), ("/redoc", {"js"})])
def test_docs_pages_use_only_local_assets(page, kinds):
    from reelsmith.server.app import create_app

    with _client(create_app(run_jobs=False)) as c:
        r = c.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        html = r.text
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html
        assert not re.search(r"https?://", html), "the page must not reference another host"
        urls = _asset_urls(html)
        assets = [u for u in urls if u.startswith("/docs-assets/")]
        seen = set()
        for url in assets:
            got = c.get(url)
            assert got.status_code == 200, url
            ctype = got.headers["content-type"]
            if url.endswith(".js"):
                assert "javascript" in ctype and len(got.content) > 100_000
                seen.add("js")
            elif url.endswith(".css"):
                assert ctype.startswith("text/css") and b"swagger-ui" in got.content
                seen.add("css")
        assert kinds <= seen
        assert "/openapi.json" in urls or "/openapi.json" in html
        if page == "/docs":
            bundle = c.get("/docs-assets/swagger-ui-bundle.js").text
            assert re.search(r"5\.\d+\.\d+", bundle)  # Swagger UI 5 (OpenAPI 3.1)
        assert c.get("/docs-assets/../app.py").status_code == 404
        assert c.get("/docs-assets/nothing.js").status_code == 404
