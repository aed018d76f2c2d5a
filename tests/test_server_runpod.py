"""The RunPod-compatible /v2 API, driven by the official ``runpod`` client."""

from __future__ import annotations

import base64
import time

import httpx
import pytest
import runpod
from jobs_testkit import ThreadedServer, wait_for

from mediagen import make_image


@pytest.fixture()
def endpoint(monkeypatch):
    from reelsmith.server.app import create_app

    with ThreadedServer(create_app(concurrency=2)) as srv:
        monkeypatch.setattr(runpod, "api_key", "anything")  # no keys: auth is off
        monkeypatch.setattr(runpod, "endpoint_url_base", srv.url + "/v2")
        yield runpod.Endpoint("local-ep"), srv


@pytest.fixture(scope="module")
def png_b64(media_dir):
    return base64.b64encode(make_image(media_dir / "rp.png", 32, 32).read_bytes()).decode()


def test_run_sync_status_and_output(endpoint, png_b64):
    ep, srv = endpoint
    out = ep.run_sync({"workflow": "test_copy", "video_base64": png_b64}, timeout=60)
    assert out["video"].startswith("data:image/png;base64,")
    assert base64.b64decode(out["video"].split(",", 1)[1]) == base64.b64decode(png_b64)
    assert out["metadata"]["backend"] == "copy"

    job = ep.run({"input": {"workflow": "test_sleep", "video_base64": png_b64,
                            "params": {"seconds": 0.3}}})
    assert job.status() in ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")
    result = job.output(timeout=60)
    assert "video" in result and job.status() == "COMPLETED"
    raw = httpx.get(f"{srv.url}/v2/local-ep/status/{job.job_id}").json()
    assert raw["id"] == job.job_id and raw["status"] == "COMPLETED"
    assert raw["executionTime"] >= 0 and raw["delayTime"] >= 0
    # another endpoint id does not see it
    assert httpx.get(f"{srv.url}/v2/other/status/{job.job_id}").status_code == 404


def test_failed_job_reports_error(endpoint, png_b64):
    ep, srv = endpoint
    job = ep.run({"workflow": "test_sleep", "video_base64": png_b64, "params": {"fail": True}})
    wait_for(lambda: job.status() == "FAILED")
    raw = httpx.get(f"{srv.url}/v2/local-ep/status/{job.job_id}").json()
    assert raw["status"] == "FAILED" and "asked to fail" in raw["error"]


def test_bad_media_is_refused_at_the_door(endpoint):
    """Base64 that is not media never becomes a job: 415 with a sentence, nothing stored."""
    ep, srv = endpoint
    r = httpx.post(f"{srv.url}/v2/local-ep/run",
                   json={"input": {"workflow": "test_copy", "video_base64": "bm90IGEgdmlkZW8="}})
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media"
    assert httpx.get(f"{srv.url}/api/v1/jobs").json()["total"] == 0
    from reelsmith.jobs import artifacts

    assert not any(artifacts.uploads_root().glob("*/*"))


def test_cancel_and_stream(endpoint, png_b64):
    ep, srv = endpoint
    job = ep.run({"workflow": "test_sleep", "video_base64": png_b64,
                  "params": {"seconds": 60, "steps": 600}})
    wait_for(lambda: job.status() == "IN_PROGRESS")
    res = job.cancel()
    assert res["id"] == job.job_id and res["status"] == "CANCELLED"
    assert httpx.get(f"{srv.url}/v2/local-ep/status/{job.job_id}").json()["status"] \
        == "CANCELLED"

    job = ep.run({"workflow": "test_sleep", "video_base64": png_b64,
                  "params": {"seconds": 2.5, "steps": 25}})
    chunks = list(job.stream())
    assert len(chunks) >= 2
    assert any("progress" in c for c in chunks[:-1])
    assert chunks[-1]["video"].startswith("data:application/json;base64,")


def test_health_purge_and_bad_requests(endpoint, png_b64):
    ep, srv = endpoint
    blockers = [ep.run({"workflow": "test_sleep", "video_base64": png_b64,
                        "params": {"seconds": 30, "steps": 300}}) for _ in range(2)]
    wait_for(lambda: all(b.status() == "IN_PROGRESS" for b in blockers))
    queued = [ep.run({"workflow": "test_sleep", "video_base64": png_b64}) for _ in range(3)]
    health = ep.health()
    assert health["jobs"]["inQueue"] == 3 and health["jobs"]["inProgress"] == 2
    assert health["workers"]["running"] == 2
    assert ep.purge_queue() == {"removed": 3, "status": "completed"}
    assert all(q.status() == "CANCELLED" for q in queued)
    for b in blockers:
        b.cancel()
    r = httpx.post(f"{srv.url}/v2/local-ep/run", json={"input": "nope"})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "input"
    r = httpx.post(f"{srv.url}/v2/local-ep/run", content=b"{", headers={
        "content-type": "application/json"})
    assert r.status_code == 422
    t0 = time.time()
    r = httpx.post(f"{srv.url}/v2/local-ep/runsync?wait=1000",
                   json={"input": {"workflow": "test_sleep", "video_base64": png_b64,
                                   "params": {"seconds": 30, "steps": 300}}}, timeout=30)
    assert r.json()["status"] in ("IN_QUEUE", "IN_PROGRESS") and time.time() - t0 < 25
    httpx.post(f"{srv.url}/v2/local-ep/cancel/{r.json()['id']}")
