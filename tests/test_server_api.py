"""REST /api/v1 through FastAPI's TestClient (the socket adds nothing here)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from fastapi.testclient import TestClient
from jobs_testkit import wait_for

from mediagen import make_image
from reelsmith.config import reset_settings


@pytest.fixture()
def client():
    from reelsmith.server.app import create_app

    with TestClient(base_url="http://127.0.0.1", app=create_app(concurrency=2)) as c:
        yield c


def _wait_done(client, job_id, timeout=60):
    def done():
        j = client.get(f"/api/v1/jobs/{job_id}").json()
        return j if j["status"] in ("completed", "failed", "cancelled") else None
    return wait_for(done, timeout)


def test_workflows_listed_with_schemas(client):
    r = client.get("/api/v1/workflows")
    assert r.status_code == 200
    by_name = {w["name"]: w for w in r.json()["workflows"]}
    assert "test_sleep" in by_name
    schema = by_name["test_sleep"]["params_schema"]
    assert schema["properties"]["seconds"]["minimum"] == 0
    assert client.get("/api/v1/workflows/test_sleep").json()["name"] == "test_sleep"


def test_job_lifecycle_result_and_range(client):
    r = client.post("/api/v1/jobs", json={"workflow": "test_sleep",
                                          "params": {"seconds": 0.2, "label": "hello"}})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] in ("queued", "running")
    done = _wait_done(client, job["id"])
    assert done["status"] == "completed" and done["progress"] == 1.0
    assert done["attempts"] == 1
    res = client.get(f"/api/v1/jobs/{job['id']}/result").json()
    assert res["backend"] == "sleep"
    out = res["outputs"]["report"]
    assert out["content_type"] == "application/json"
    full = client.get(out["url"])
    assert full.status_code == 200
    assert json.loads(full.content)["label"] == "hello"
    assert full.headers["accept-ranges"] == "bytes"
    part = client.get(out["url"], headers={"Range": "bytes=2-6"})
    assert part.status_code == 206
    assert part.content == full.content[2:7]
    assert part.headers["content-range"] == f"bytes 2-6/{len(full.content)}"


def test_errors_are_json_and_field_level(client):
    r = client.post("/api/v1/jobs", json={"workflow": "nope"})
    assert r.status_code == 400
    assert "test_sleep" in r.json()["valid_workflows"] and "test_sleep" in r.json()["message"]
    r = client.post("/api/v1/jobs", json={"workflow": "test_sleep",
                                          "params": {"seconds": -1, "steps": "many"}})
    assert r.status_code == 422
    fields = {f["field"] for f in r.json()["fields"]}
    assert fields == {"params.seconds", "params.steps"}
    r = client.post("/api/v1/jobs", content=b"{not json", headers={"content-type":
                                                                    "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "validation_error"
    r = client.post("/api/v1/jobs", json={"params": {}})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "workflow"
    r = client.post("/api/v1/jobs", json={"workflow": "test_copy"})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "inputs.video"
    r = client.post("/api/v1/jobs", json={"workflow": "test_copy",
                                          "inputs": {"video": {"url": "ftp://x/y.mp4"}}})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "inputs.video.url"
    for path in ("/api/v1/jobs/" + "0" * 32, "/api/v1/jobs/../../etc/passwd",
                 "/api/v1/jobs/abc/result", "/api/v1/uploads/" + "f" * 32):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "Traceback" not in r.text
    assert client.get("/api/v1/jobs?status=bogus").status_code == 422


def test_upload_probe_415_413_and_job_from_upload(client, media_dir, monkeypatch):
    png = make_image(media_dir / "up.png", 64, 48)
    r = client.post("/api/v1/uploads", files={"file": ("up.png", png.read_bytes(), "image/png")})
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["kind"] == "image" and up["media"]["width"] == 64
    assert client.get(f"/api/v1/uploads/{up['id']}").json()["size_bytes"] == png.stat().st_size

    r = client.post("/api/v1/uploads", files={"file": ("doc.mp4", b"%PDF-1.4 hello", "video/mp4")})
    assert r.status_code == 415
    assert "PDF" in r.json()["detected"] and "PDF" in r.json()["message"]

    monkeypatch.setenv("REELSMITH_MAX_INPUT_BYTES", "1000")
    reset_settings()
    r = client.post("/api/v1/uploads", files={"file": ("big.bin", b"x" * 5000, "video/mp4")})
    assert r.status_code == 413
    monkeypatch.delenv("REELSMITH_MAX_INPUT_BYTES")
    reset_settings()

    r = client.post("/api/v1/jobs", json={"workflow": "test_copy",
                                          "inputs": {"video": up["id"]}})
    assert r.status_code == 201, r.text
    done = _wait_done(client, r.json()["id"])
    assert done["status"] == "completed", done
    got = client.get(done["outputs"]["video"])
    assert got.headers["content-type"] == "image/png"
    assert got.content == png.read_bytes()


def test_multipart_job_in_one_call_and_base64(client, clip):
    data = clip.read_bytes()
    r = client.post("/api/v1/jobs", data={"workflow": "test_copy", "params": "{}",
                                          "priority": "5"},
                    files={"video": ("clip.mp4", data, "video/mp4")})
    assert r.status_code == 201, r.text
    assert r.json()["priority"] == 5
    done = _wait_done(client, r.json()["id"])
    assert done["status"] == "completed"
    got = client.get(done["outputs"]["video"], headers={"Range": "bytes=0-99"})
    assert got.status_code == 206 and got.headers["content-type"] == "video/mp4"
    assert got.content == data[:100]

    b64 = "data:video/mp4;base64," + base64.b64encode(data).decode()
    r = client.post("/api/v1/jobs", json={"workflow": "test_copy", "inputs": {"video": b64}})
    assert r.status_code == 201, r.text
    assert r.json()["inputs"]["video"]["type"] == "upload"
    assert _wait_done(client, r.json()["id"])["status"] == "completed"

    r = client.post("/api/v1/jobs", json={"workflow": "test_copy",
                                          "inputs": {"video": {"base64": "aGVsbG8gd29ybGQ="}}})
    assert r.status_code == 415


def test_server_paths_need_allowed_roots(client, clip, monkeypatch, tmp_path):
    client.app.state.rs.local_only = False
    r = client.post("/api/v1/jobs", json={"workflow": "test_copy",
                                          "inputs": {"video": {"path": str(clip)}}})
    assert r.status_code == 400 and r.json()["error"] == "paths_disabled"
    monkeypatch.setenv("REELSMITH_ALLOWED_ROOTS", str(tmp_path))
    reset_settings()
    r = client.post("/api/v1/jobs", json={"workflow": "test_copy",
                                          "inputs": {"video": {"path": str(clip)}}})
    assert r.status_code == 400 and "outside the directories" in r.json()["message"]
    monkeypatch.setenv("REELSMITH_ALLOWED_ROOTS", str(clip.parent))
    reset_settings()
    r = client.post("/api/v1/jobs", json={"workflow": "test_copy",
                                          "inputs": {"video": {"path": str(clip)}}})
    assert r.status_code == 201
    assert _wait_done(client, r.json()["id"])["status"] == "completed"


def test_cancel_stops_running_work_and_retry_delete(client, tmp_path):
    r = client.post("/api/v1/jobs", json={"workflow": "test_sleep",
                                          "params": {"seconds": 60, "steps": 600}})
    jid = r.json()["id"]
    wait_for(lambda: client.get(f"/api/v1/jobs/{jid}").json()["status"] == "running")
    r = client.post(f"/api/v1/jobs/{jid}/cancel")
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"  # the endpoint waited for the stop
    job = client.get(f"/api/v1/jobs/{jid}").json()
    assert job["status"] == "cancelled" and job["progress"] < 0.5
    assert client.get(f"/api/v1/jobs/{jid}/result").status_code == 409

    assert client.post(f"/api/v1/jobs/{jid}/retry").json()["status"] == "queued"
    wait_for(lambda: client.get(f"/api/v1/jobs/{jid}").json()["status"] == "running")
    assert client.delete(f"/api/v1/jobs/{jid}").json()["deleted"] is True
    assert client.get(f"/api/v1/jobs/{jid}").status_code == 404

    r = client.post("/api/v1/jobs", json={"workflow": "test_sleep", "params": {"fail": True}})
    failed = _wait_done(client, r.json()["id"])
    assert failed["status"] == "failed" and "asked to fail" in failed["error"]
    assert client.post(f"/api/v1/jobs/{failed['id']}/retry").status_code == 200
    r = client.post("/api/v1/jobs", json={"workflow": "test_sleep"})
    done = _wait_done(client, r.json()["id"])
    assert client.post(f"/api/v1/jobs/{done['id']}/retry").status_code == 409


def test_list_filters_pagination_and_priority():
    from reelsmith.server.app import create_app

    with TestClient(base_url="http://127.0.0.1", app=create_app(concurrency=1)) as c:
        blocker = c.post("/api/v1/jobs", json={"workflow": "test_sleep",
                                               "params": {"seconds": 1.0}}).json()["id"]
        wait_for(lambda: c.get(f"/api/v1/jobs/{blocker}").json()["status"] == "running")
        low = [c.post("/api/v1/jobs", json={"workflow": "test_sleep", "priority": 0,
                                            "params": {"label": f"low{i}"}}).json()["id"]
               for i in range(3)]
        high = c.post("/api/v1/jobs", json={"workflow": "test_sleep", "priority": 10,
                                            "params": {"label": "high"}}).json()["id"]
        page = c.get("/api/v1/jobs?status=queued&limit=2").json()
        assert page["total"] == 4 and len(page["items"]) == 2 and page["next_offset"] == 2
        page2 = c.get("/api/v1/jobs?status=queued&limit=2&offset=2").json()
        assert {j["id"] for j in page["items"] + page2["items"]} == set(low + [high])
        for jid in low + [high]:
            _wait_done(c, jid)
        started = {jid: c.get(f"/api/v1/jobs/{jid}").json()["started_at"] for jid in low + [high]}
        assert started[high] < min(started[i] for i in low)
        assert c.get("/api/v1/jobs?workflow=test_copy").json()["total"] == 0
        assert c.get("/api/v1/jobs?workflow=test_sleep&status=completed").json()["total"] == 5


def test_real_upscale_on_png(client, media_dir):
    from reelsmith.workflows import list_workflows

    if "upscale" not in {w.name for w in list_workflows()}:
        pytest.skip("the upscale workflow is not available yet")
    png = make_image(media_dir / "small.png", 64, 64)
    r = client.post("/api/v1/jobs", data={"workflow": "upscale", "params": json.dumps({"scale": 2})},
                    files={"video": ("small.png", png.read_bytes(), "image/png")})
    assert r.status_code == 201, r.text
    done = _wait_done(client, r.json()["id"], timeout=120)
    assert done["status"] == "completed", done["error"]
    res = client.get(f"/api/v1/jobs/{done['id']}/result").json()
    role, out = next(iter(res["outputs"].items()))
    img = client.get(out["url"])
    assert img.headers["content-type"].startswith("image/")
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(img.content)).size == (128, 128)


def test_system_endpoints(client):
    assert client.get("/api/v1/system/health").json()["database"] is True
    v = client.get("/api/v1/system/version").json()
    assert "test_sleep" in v["workflows"]
    s = client.get("/api/v1/system/stats").json()
    assert s["queue_depth"] == 0 and s["execution"] == "local"
    assert s["host"]["cpu_count"] >= 1 and isinstance(s["gpus"], list)
    assert client.get("/docs").status_code == 200
    assert "reelsmith studio" in client.get("/studio/").text
    time.sleep(0)


def test_unexpected_error_is_a_json_500_without_traceback(monkeypatch):
    from reelsmith.server.app import create_app

    with TestClient(base_url="http://127.0.0.1", app=create_app(concurrency=1), raise_server_exceptions=False) as c:
        def boom(*a, **k):
            raise RuntimeError("secret internals")
        monkeypatch.setattr(c.app.state.rs.store, "counts", boom)
        r = c.get("/api/v1/system/stats")
        assert r.status_code == 500
        assert r.json()["error"] == "internal"
        assert "secret internals" not in r.text and "Traceback" not in r.text
