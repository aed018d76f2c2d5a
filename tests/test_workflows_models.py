"""--model through the workflows, the CLI and the worker: real ONNX graphs built here."""

from __future__ import annotations

import base64
import subprocess
import sys

import numpy as np
import pytest
from modelgen import make_interp_onnx, make_sr_onnx

import reelsmith
from mediagen import psnr
from reelsmith.engine.context import JobContext
from reelsmith.errors import ModelError
from reelsmith.jobs.handler import run_handler_input
from reelsmith.media.probe import probe
from reelsmith.media.reader import VideoReader


def test_upscale_with_onnx_model_path(clip, tmp_path):
    model = make_sr_onnx(tmp_path / "tiny_x2.onnx", scale=2)
    out = tmp_path / "m.mp4"
    r = reelsmith.run("upscale", clip, output=out, model=str(model))
    info = probe(out)
    assert (info.width, info.height) == (320, 192)
    assert info.has_audio and info.frame_count == probe(clip).frame_count
    assert r.metadata["backend"] in ("onnxruntime", "ort") or "onnx" in str(r.metadata["backend"])
    assert r.metadata["upscaler"]["name"]


def test_fixed_scale_model_resized_to_target_height(clip, tmp_path):
    model = make_sr_onnx(tmp_path / "tiny_x4.onnx", scale=4)
    out = tmp_path / "h.mp4"
    reelsmith.run("upscale", clip, output=out, model=str(model), height=144)
    assert (probe(out).width, probe(out).height) == (240, 144)


def test_interpolate_with_onnx_rife_contract(clip, tmp_path):
    """A linear-blend graph with RIFE's ONNX I/O: the middle frame equals the average."""
    model = make_interp_onnx(tmp_path / "blend.onnx")
    out = tmp_path / "i.mp4"
    r = reelsmith.run("interpolate", clip, output=out, interpolation_model=str(model), crf=0)
    assert probe(out).frame_count == 2 * probe(clip).frame_count
    frames = [f.image for f in VideoReader(out)]
    ins = [f.image for f in VideoReader(clip)]
    mid = frames[11]
    avg = ((ins[5].astype(np.float32) + ins[6]) / 2).round().astype(np.uint8)
    assert psnr(mid, avg) > 35
    assert "onnx" in str(r.metadata["interpolator"]).lower()


def test_models_are_used_in_the_right_role(clip, tmp_path):
    sr = make_sr_onnx(tmp_path / "sr.onnx", scale=2)
    with pytest.raises(ModelError, match="interpolat"):
        reelsmith.run("interpolate", clip, output=tmp_path / "x.mp4", interpolation_model=str(sr))
    with pytest.raises(ModelError, match="Did you mean|unknown|Unknown"):
        reelsmith.run("upscale", clip, output=tmp_path / "x.mp4", model="RealESRGAN_x4plu")
    with pytest.raises(ModelError):
        reelsmith.run("upscale", clip, output=tmp_path / "x.mp4", model=str(tmp_path / "missing.onnx"))
    assert not list(tmp_path.glob("x.mp4")) and not list(tmp_path.glob(".x*"))


def test_auto_uses_an_installed_model_and_builtin_ignores_it(clip, tmp_path, monkeypatch):
    from reelsmith.config import reset_settings

    models = tmp_path / "models"
    models.mkdir()
    make_sr_onnx(models / "tiny_x2.onnx", scale=2)
    monkeypatch.setenv("REELSMITH_MODELS", str(models))
    reset_settings()
    reset_settings()
    r = reelsmith.run("upscale", clip, output=tmp_path / "a.mp4", scale=2)
    assert r.metadata["model"] != "builtin-lanczos"
    r = reelsmith.run("upscale", clip, output=tmp_path / "b.mp4", scale=2, model="builtin")
    assert r.metadata["model"] == "builtin-lanczos"


def test_worker_model_field(clip, tmp_path):
    model = make_sr_onnx(tmp_path / "w.onnx", scale=2)
    res = run_handler_input({"video_path": str(clip), "model": str(model)}, JobContext())
    assert "error" not in res, res
    out = tmp_path / "w.mp4"
    out.write_bytes(base64.b64decode(res["video"].split(",", 1)[1]))
    assert probe(out).width == 320


def test_cli_model_flag(clip, tmp_path):
    model = make_sr_onnx(tmp_path / "c.onnx", scale=2)
    out = tmp_path / "c.mp4"
    proc = subprocess.run([sys.executable, "-m", "reelsmith", "upscale", str(clip), "-o", str(out),
                           "--model", str(model)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "model:" in proc.stdout
