"""/v2 state that must outlive one server process: the stream cursor, and results copied to
the network volume (tracked, downloadable, deleted with their job)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx
from jobs_testkit import ThreadedServer, wait_for

from mediagen import make_image


def _png_b64(tmp_path: Path) -> tuple[bytes, str]:
    raw = make_image(tmp_path / "in.png", 24, 24).read_bytes()
    return raw, base64.b64encode(raw).decode()


def test_stream_chunks_are_sent_once_across_servers_and_restarts(tmp_path):
    from reelsmith.server.app import create_app

    _, b64 = _png_b64(tmp_path)
    with ThreadedServer(create_app(concurrency=1)) as a, \
            ThreadedServer(create_app(run_jobs=False)) as b:
        r = httpx.post(a.url + "/v2/ep/run", json={"input": {
            "workflow": "test_sleep", "video_base64": b64, "params": {"seconds": 1.5, "steps": 15}}})
        job_id = r.json()["id"]
        chunks: list[dict] = []
        for i in range(400):
            srv = (a, b)[i % 2]
            got = httpx.get(f"{srv.url}/v2/ep/stream/{job_id}").json()
            chunks += got["stream"]
            if got["status"] == "COMPLETED" and any("video" in c["output"] for c in chunks):
                break
        finals = [c for c in chunks if "video" in c["output"]]
        assert len(finals) == 1  # the result went out exactly once, from either server
        progress = [c["output"] for c in chunks if "progress" in c["output"]]
        assert progress and all(p != q for p, q in zip(progress, progress[1:], strict=False))
    # a server started afterwards (fresh memory) does not replay the result
    with ThreadedServer(create_app(run_jobs=False)) as c:
        again = httpx.get(f"{c.url}/v2/ep/stream/{job_id}").json()
        assert again["status"] == "COMPLETED" and again["stream"] == []


def test_network_volume_results_are_tracked_downloadable_and_deleted(tmp_path):
    from reelsmith.server.app import create_app

    raw, b64 = _png_b64(tmp_path)
    volume = Path(os.environ["REELSMITH_OUTPUT_DIR"])
    with ThreadedServer(create_app(concurrency=1)) as srv:
        r = httpx.post(srv.url + "/v2/ep/runsync", timeout=60, json={"input": {
            "workflow": "test_copy", "video_base64": b64, "network_volume": True}})
        assert r.status_code == 200 and r.json()["status"] == "COMPLETED", r.text
        out = r.json()["output"]
        path = Path(out["video_path"])
        assert path.parent == volume and path.read_bytes() == raw
        assert "video" not in out  # the volume copy, not an inline data URI
        assert httpx.get(srv.url + out["video_url"]).content == raw  # and a URL the caller can use
        job_id = r.json()["id"]
        assert httpx.delete(f"{srv.url}/api/v1/jobs/{job_id}").status_code == 200
        assert not path.exists()
        wait_for(lambda: not any(volume.iterdir()), timeout=5)
