"""The web studio in a real browser (Debian's chromium, headless): user-controlled text in
the job list is shown as text, never interpreted as HTML."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest
from serve_proc import ServeProcess

HOSTILE_NAME = """<img src=x onerror="document.title='pwned'">"""
HOSTILE_ERROR = """<script>document.title='pwned'</script><b id=injected>x</b>"""
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def _dump_dom(url: str, workdir, timeout: float = 60.0) -> str:
    """The DOM after the page's scripts ran. The browser gets its own session and writes to
    a file, so a hung browser is killed with its whole group and cannot block the test."""
    out = workdir / "dom.html"
    with open(out, "wb") as fh:
        proc = subprocess.Popen(
            [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={workdir / 'profile'}",
             "--virtual-time-budget=15000", "--dump-dom", url],
            stdout=fh, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass  # stuck in the kernel: abandon it rather than hang
            raise
    return out.read_text(errors="replace")


@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (.ci/run installs it)")
def test_hostile_job_fields_render_as_text(tmp_path):
    from reelsmith.jobs import models as m
    from reelsmith.jobs.store import JobStore

    srv = ServeProcess(tmp_path / "data")  # the same data dir this test process uses
    store = JobStore()
    job = store.create_job(owner="local", workflow=HOSTILE_NAME, params={}, inputs={})
    store.claim(job.id, "w")
    store.finish(job.id, "w", m.FAILED, error=HOSTILE_ERROR, error_code="x")
    store.create_job(owner="local", workflow="test_sleep", params={}, inputs={})
    with srv:
        dom = ""
        for attempt in range(2):
            work = tmp_path / f"browser{attempt}"
            work.mkdir()
            try:
                dom = _dump_dom(srv.url + "/studio/", work)
                break
            except subprocess.TimeoutExpired:
                continue
        assert dom, "the browser did not finish twice"
    assert 'data-ready="1"' in dom, dom[-2000:]  # the page's scripts ran to the end
    assert "<title>reelsmith studio</title>" in dom  # no handler rewrote it
    assert "&lt;img src=x onerror=" in dom  # the name is shown, as text
    assert "&lt;script&gt;document.title" in dom
    assert "<img" not in dom and 'id="injected"' not in dom and "<b " not in dom
    assert dom.count("<tr>") >= 2  # both jobs are listed
