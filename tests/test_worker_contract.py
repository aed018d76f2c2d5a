"""The RunPod worker contract: every input form, every error, the SDK's local test mode."""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from reelsmith.config import reset_settings
from reelsmith.engine.context import JobContext
from reelsmith.jobs.handler import run_handler_input
from reelsmith.media.probe import probe
from reelsmith.serverless import handler

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def http_root(clip, media_dir):
    """A real HTTP server on 127.0.0.1 serving the media directory."""
    handler_cls = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(media_dir))
    handler_cls.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def allow_loopback(monkeypatch):
    monkeypatch.setenv("REELSMITH_URL_ALLOW_HOSTS", "127.0.0.1")
    reset_settings()


def decode_result(result: dict, tmp_path: Path) -> Path:
    assert "error" not in result, result
    uri = result["video"]
    assert uri.startswith("data:video/mp4;base64,")
    out = tmp_path / "result.mp4"
    out.write_bytes(base64.b64decode(uri.split(",", 1)[1]))
    return out


def test_path_input_returns_base64_video_with_audio(clip, tmp_path):
    res = run_handler_input({"video_path": str(clip), "scale": 2}, JobContext())
    info = probe(decode_result(res, tmp_path))
    src = probe(clip)
    assert (info.width, info.height) == (src.width * 2, src.height * 2)
    assert info.has_audio
    assert abs(info.duration - src.duration) <= 1 / float(src.fps)
    assert res["metadata"]["backend"] == "opencv"


def test_upscale_and_interpolation_keeps_every_frame(clip, tmp_path):
    res = run_handler_input({"task_type": "upscale_and_interpolation", "video_path": str(clip),
                             "scale": 2, "multiplier": 2}, JobContext())
    info = probe(decode_result(res, tmp_path))
    src = probe(clip)
    assert info.frame_count == src.frame_count * 2  # the first frame is not dropped
    assert float(info.fps) == pytest.approx(float(src.fps) * 2)
    assert abs(info.duration - src.duration) <= 1 / float(src.fps)
    assert info.has_audio


def test_url_input_downloads_into_the_job_directory(http_root, allow_loopback, tmp_path):
    before = set(Path.cwd().iterdir())
    res = run_handler_input({"video_url": f"{http_root}/clip.mp4"}, JobContext())
    decode_result(res, tmp_path)
    assert set(Path.cwd().iterdir()) == before  # nothing left in the working directory


def test_url_to_loopback_refused_by_default(http_root):
    res = run_handler_input({"video_url": f"{http_root}/clip.mp4"}, JobContext())
    assert "error" in res and "private" in res["error"].lower() or "loopback" in res["error"].lower()


@pytest.mark.parametrize("form", ["raw", "data_uri"])
def test_base64_inputs(clip, tmp_path, form):
    raw = base64.b64encode(clip.read_bytes()).decode()
    value = raw if form == "raw" else "data:video/mp4;base64," + raw
    res = run_handler_input({"video_base64": value, "scale": 2}, JobContext())
    assert probe(decode_result(res, tmp_path)).width == probe(clip).width * 2


def test_network_volume_writes_under_output_dir(clip, tmp_path):
    res = run_handler_input({"video_path": str(clip), "network_volume": True}, JobContext(),
                            job_id="abc123")
    assert "error" not in res, res
    out = Path(res["video_path"])
    assert out.parent == tmp_path / "volume" and out.name.startswith("abc123_")
    assert probe(out).has_audio
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp files


def test_generic_workflow_and_params(clip, tmp_path):
    res = run_handler_input({"workflow": "interpolate", "params": {"fps": 50},
                             "video_path": str(clip)}, JobContext())
    info = probe(decode_result(res, tmp_path))
    assert float(info.fps) == pytest.approx(50)


@pytest.mark.parametrize(
    ("job_input", "needle"),
    [
        ({}, "exactly one of video_path"),
        ({"video_path": "a.mp4", "video_url": "http://example.com/a.mp4"}, "several inputs"),
        ({"task_type": "colorize", "video_path": "x"}, "upscale, upscale_and_interpolation"),
        ({"workflow": "nope", "video_path": "x"}, "unknown workflow"),
        ({"video_path": "/definitely/missing.mp4"}, "does not exist"),
        ({"video_base64": "!!!not base64!!!"}, "base64"),
        ({"video_url": "ftp://example.com/a.mp4"}, "http"),
        ({"video_path": "x.mp4", "scale": "huge"}, "scale"),
        ({"video_path": "x.mp4", "network_volume": "yes"}, "network_volume"),
        ({"video_path": "x.mp4", "bogus_field": 1}, "bogus_field"),
        ("not an object", "json object"),
    ],
)
def test_errors_are_sentences_never_exceptions(job_input, needle):
    res = run_handler_input(job_input, JobContext())
    assert set(res) >= {"error"}
    assert needle.lower() in res["error"].lower(), res["error"]
    assert "Traceback" not in res["error"]


def test_non_media_file_is_refused(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    res = run_handler_input({"video_path": str(bad)}, JobContext())
    assert "error" in res and "notes.mp4" in res["error"]


def test_overall_timeout(clip):
    res = run_handler_input({"task_type": "upscale_and_interpolation", "video_path": str(clip)},
                            JobContext(timeout_s=0.001))
    assert res.get("error_type") == "timed_out"


def test_runpod_handler_function(clip, tmp_path):
    res = handler({"id": "job-1", "input": {"video_path": str(clip)}})
    decode_result(res, tmp_path)


def test_runpod_sdk_local_test_mode(clip, tmp_path):
    """`python -m reelsmith.serverless --test_input '{...}'` runs one job through the SDK."""
    env = dict(os.environ, REELSMITH_DATA_DIR=str(tmp_path / "data"),
               REELSMITH_OUTPUT_DIR=str(tmp_path / "vol"))
    payload = {"input": {"video_path": str(clip), "scale": 2, "network_volume": True}}
    proc = subprocess.run([sys.executable, "-m", "reelsmith.serverless", "--test_input",
                           json.dumps(payload)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outs = list((tmp_path / "vol").glob("*.mp4"))
    assert len(outs) == 1 and probe(outs[0]).width == probe(clip).width * 2
    assert "video_path" in proc.stdout + proc.stderr
