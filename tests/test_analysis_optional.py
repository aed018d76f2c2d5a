"""Optional signals: they degrade with a stated reason and work when configured."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from highlights_media import make_stitched  # noqa: E402

from reelsmith.analysis import llm, semantic, transcript  # noqa: E402
from reelsmith.analysis.pipeline import AnalysisOptions, analyze  # noqa: E402
from reelsmith.config import reset_settings


class _Handler(BaseHTTPRequestHandler):
    mode = "ok"
    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body, self.headers.get("Authorization")))
        if self.mode == "slow":
            time.sleep(1.5)
        if self.mode == "500":
            self.send_response(500)
            self.end_headers()
            return
        n = body["messages"][1]["content"].count("\n") + 1
        content = "not json" if self.mode == "garbage" else \
            "Sure: " + json.dumps({"scores": [(i * 7) % 11 for i in range(n)]})
        data = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture
def llm_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    _Handler.seen = []
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_llm_scores_windows(llm_server):
    cfg = {"url": llm_server, "model": "m", "api_key": "k", "timeout": 5}
    _Handler.mode = "ok"
    scores, why = llm.score_windows(["one", "two", "three"], cfg)
    assert why == "" and scores == [0.0, 0.7, 0.3]
    path, body, auth = _Handler.seen[-1]
    assert path == "/v1/chat/completions" and body["model"] == "m" and auth == "Bearer k"


@pytest.mark.parametrize("mode,word", [("slow", "within"), ("500", "failed"),
                                       ("garbage", "could not be read")])
def test_llm_failures_fall_back_with_reason(llm_server, mode, word):
    _Handler.mode = mode
    cfg = {"url": llm_server, "model": "m", "api_key": "", "timeout": 0.5}
    scores, why = llm.score_windows(["a", "b"], cfg)
    assert scores is None and word in why


def test_llm_unconfigured(monkeypatch):
    monkeypatch.delenv("REELSMITH_LLM_URL", raising=False)
    reset_settings()
    assert llm.score_windows(["x"]) == (None, "no LLM endpoint is configured (REELSMITH_LLM_URL)")


def test_pipeline_uses_llm_when_a_transcript_exists(llm_server, monkeypatch, tmp_path):
    _Handler.mode = "ok"
    monkeypatch.setenv("REELSMITH_LLM_URL", llm_server)
    reset_settings()
    cues = [transcript.Cue(0.5, 1.5, "hello"), transcript.Cue(2.0, 3.0, "world")]
    monkeypatch.setattr(transcript, "transcribe",
                        lambda *a, **k: (transcript.Transcript(cues, "en"), ""))
    src = make_stitched(tmp_path / "s.mp4", [("speech", 3.0)])
    an = analyze(src, options=AnalysisOptions(llm_window_s=1.0))
    assert "llm" in an.signals and an.backends["llm"]["available"]
    assert an.signals["llm"].max() > 0


def test_transcript_reasons(tmp_path, monkeypatch):
    monkeypatch.delenv(transcript.ENV_MODEL, raising=False)
    tr, why = transcript.transcribe(None, 16000, models_dir=tmp_path)
    assert tr is None and "no audio" in why
    tr, why = transcript.transcribe(np.zeros(16000, np.float32), 16000, models_dir=tmp_path)
    assert tr is None and ("not installed" in why or "model directory" in why)
    (tmp_path / "faster-whisper-tiny").mkdir()
    (tmp_path / "faster-whisper-tiny" / "model.bin").write_bytes(b"x")
    assert transcript.find_model_dir(tmp_path) == tmp_path / "faster-whisper-tiny"


def test_semantic_absent_then_tiny_onnx_model(tmp_path):
    scorer, why = semantic.load(tmp_path)
    assert scorer is None and "clip_image.onnx" in why
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    # "Image encoder": global average pool -> 3-d embedding (mean R, G, B).
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["pixel_values"], ["p"]),
         helper.make_node("Flatten", ["p"], ["image_embeds"], axis=1)],
        "clip", [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, [1, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    d = tmp_path / "highlights"
    d.mkdir()
    onnx.save(model, d / "clip_image.onnx")
    np.savez(d / "clip_prompts.npz", positive=np.array([[1.0, -1.0, -1.0]]),
             negative=np.array([[-1.0, 1.0, 1.0]]))
    scorer, why = semantic.load(tmp_path)
    assert why == "" and scorer is not None
    red = np.zeros((20, 20, 3), np.uint8)
    red[..., 0] = 255
    blue = np.zeros((20, 20, 3), np.uint8)
    blue[..., 2] = 255
    assert scorer.score(red) > 0.9 > 0.1 > scorer.score(blue)
    src = make_stitched(tmp_path / "s.mp4", [("dull", 2.0)])
    an = analyze(src, options=AnalysisOptions(models_dir=tmp_path))
    assert an.backends["semantic"]["available"] and "semantic" in an.signals
