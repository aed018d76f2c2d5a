"""portrait with the diffusers backend, end to end, on tiny random pipelines of the real
classes (``tests/diffusiongen.py``: SDXL inpainting, IP-Adapter FaceID / Plus v2, a CLIP image
encoder) and a tiny ArcFace graph with the real I/O contract: backend and mode choice, seeds,
ranked results, the background kept, progress with previews over a real HTTP server, cancel,
the vision-model prompt."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from modelgen import make_arcface_onnx

import reelsmith
from reelsmith.config import reset_settings
from reelsmith.errors import Cancelled, ModelError
from reelsmith.media.images import read_image, write_image

pytest.importorskip("diffusers")
data = pytest.importorskip("skimage.data")
facephotos = pytest.importorskip("facephotos")
dg = pytest.importorskip("diffusiongen")

QUICK = {"steps": 4, "size": 64, "identity_model": "dlib"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    root = dg.tiny_portrait_models(tmp_path_factory.mktemp("weights"))
    (root / "arcface").mkdir()
    make_arcface_onnx(root / "arcface" / "w600k_r50.onnx")
    return root


def _models(tmp_path: Path, weights: Path, *, arcface: bool) -> Path:
    """A models directory linking the shared tiny weights (with or without ArcFace)."""
    from reelsmith.ops.portrait_inpaint import PIPELINE_FOLDER

    root = tmp_path / "models"
    root.mkdir()
    for name in (PIPELINE_FOLDER, "ip-adapter"):
        (root / name).symlink_to(weights / name, target_is_directory=True)
    if arcface:
        (root / "w600k_r50.onnx").symlink_to(weights / "arcface" / "w600k_r50.onnx")
    return root


@pytest.fixture
def models(tmp_path, weights, monkeypatch):
    monkeypatch.setenv("REELSMITH_MODELS", str(_models(tmp_path, weights, arcface=True)))
    monkeypatch.delenv("REELSMITH_LICENSE_PROFILE", raising=False)
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def models_without_arcface(tmp_path, weights, monkeypatch):
    monkeypatch.setenv("REELSMITH_MODELS", str(_models(tmp_path, weights, arcface=False)))
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    facephotos.dlib_or_skip()
    d = tmp_path_factory.mktemp("photos")
    return {"astronaut": write_image(d / "astronaut.png", data.astronaut()),
            "camera": write_image(d / "camera.png", np.dstack([data.camera()] * 3))}


def test_auto_runs_faceid_plus_v2_with_seeds_ranked_and_background_kept(models, photos, tmp_path):
    events = []
    out = tmp_path / "out" / "p.png"
    out.parent.mkdir()
    res = reelsmith.run("portrait", photos["astronaut"], photos["camera"], output=out, count=2,
                        seed=11, save_mask=True, progress=events.append, **QUICK)
    meta = res.metadata
    assert meta["backends"]["portrait"]["backend"] == "diffusers"
    assert meta["mode"] == "faceid_plus_v2" and "backend_reason" not in meta
    assert meta["prompt_source"] == "default" and "vision model" in meta["prompt_note"]
    assert sorted(r["seed"] for r in meta["results"]) == [11, 12]
    first, second = (read_image(out.with_name(f"p-{k}.png"))[0] for k in (1, 2))
    assert np.abs(first.astype(int) - second.astype(int)).max() > 5  # two seeds, two results
    mask = read_image(res.outputs["mask"])[0][..., 0]
    ref = data.astronaut()
    for img in (first, second):
        assert np.array_equal(img[mask == 0], ref[mask == 0])  # the background is the reference's
        assert not np.array_equal(img[mask > 128], ref[mask > 128])  # the face region changed
    sims = [r["identity"]["to_face"] for r in meta["results"]]
    assert sims == sorted(sims, reverse=True)
    steps = [e for e in events if e.total and e.stage.startswith("result")]
    # 4 steps; denoise 0.9 keeps 3 of them, stop_at 0.9 (denoising_end) ends after 2.
    assert {e.total for e in steps} == {2} and {e.done for e in steps} >= {2}
    assert any(e.preview and e.preview.startswith("data:image/jpeg;base64,") for e in events)
    progress = [e.progress for e in events]
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_same_seed_reproduces(models, photos, tmp_path):
    runs = [reelsmith.run("portrait", photos["astronaut"], photos["camera"],
                          output=tmp_path / f"s{k}.png", seed=5, **QUICK) for k in range(2)]
    a, b = (read_image(r.output)[0] for r in runs)
    assert np.array_equal(a, b)


def test_cancel_during_denoising_leaves_nothing(models, photos, tmp_path):
    stop = threading.Event()
    out = tmp_path / "out"
    out.mkdir()

    def listener(ev):
        if ev.done and ev.stage.startswith("result 2"):
            stop.set()

    with pytest.raises(Cancelled):
        reelsmith.run("portrait", photos["astronaut"], photos["camera"], output=out / "c.png",
                      count=3, progress=listener, cancel_event=stop, **QUICK)
    assert list(out.iterdir()) == []  # result 1 was done, but nothing is kept of a cancelled run


def test_faceid_needs_arcface_and_auto_falls_back(models_without_arcface, photos, tmp_path):
    with pytest.raises(ModelError, match="ArcFace"):
        reelsmith.run("portrait", photos["astronaut"], photos["camera"], output=tmp_path / "a.png",
                      mode="faceid", **QUICK)
    res = reelsmith.run("portrait", photos["astronaut"], photos["camera"], output=tmp_path / "b.png",
                        **QUICK)
    assert res.metadata["mode"] == "standard"
    assert any("ArcFace" in n for n in res.metadata["notes"])


class _Vision(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        answer = {"choices": [{"message": {"content": "a middle-aged man, short dark hair,\n"
                                                      "light skin, *serious* expression"}}]}
        raw = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *a):
        pass


def test_vision_model_describes_the_face_for_the_prompt(models, photos, tmp_path, monkeypatch):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Vision)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("REELSMITH_LLM_URL", f"http://127.0.0.1:{srv.server_address[1]}/v1")
        monkeypatch.setenv("REELSMITH_VISION_MODEL", "looker")
        reset_settings()
        res = reelsmith.run("portrait", photos["astronaut"], photos["camera"],
                            output=tmp_path / "v.png", **QUICK)
    finally:
        srv.shutdown()
        srv.server_close()
    meta = res.metadata
    assert meta["prompt_source"] == "vision model"
    assert "a middle-aged man, short dark hair, light skin, serious expression" in meta["prompt"]
    body = _Vision.seen[-1]
    assert body["model"] == "looker"
    image_part = body["messages"][0]["content"][1]
    assert image_part["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_server_streams_step_progress_and_previews(models, photos, tmp_path):
    """A real ``reelsmith serve`` process (its job runs in a worker thread of its own)."""
    from serve_proc import ServeProcess

    def b64(path: Path) -> str:
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()

    with ServeProcess(tmp_path / "data") as srv:
        job = httpx.post(srv.url + "/api/v1/jobs", json={
            "workflow": "portrait", "inputs": {"reference": b64(photos["astronaut"]),
                                               "face": b64(photos["camera"])},
            "params": {**QUICK, "steps": 12, "count": 2}}).json()
        states = []
        with httpx.stream("GET", f"{srv.url}/api/v1/jobs/{job['id']}/events", timeout=120) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    states.append(json.loads(line[6:]))
    assert states[-1]["status"] == "completed", states[-1]
    running = [s for s in states if s["status"] == "running"]
    counted = [s for s in running if s.get("total")]  # denoising steps
    assert len({s["total"] for s in counted}) == 1 and counted[-1]["done"] == counted[-1]["total"] > 5
    previews = [s["preview"] for s in running if s.get("preview")]
    assert previews and all(p.startswith("data:image/jpeg;base64,") for p in previews)
    assert all(len(p) < 40_000 for p in previews)  # small: a thumbnail, not the image
