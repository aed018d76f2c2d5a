"""Colorizer models through the real model path: tiny random ONNX graphs with DDColor's contract
(luminance-only RGB in, a*/b* in Lab units out) and a DeOldify-class one (RGB in, RGB out)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from colorgen import photo, true_hints
from modelgen import make_colorizer_onnx, make_sr_onnx

import reelsmith
from reelsmith.errors import ModelError
from reelsmith.media.images import read_image, write_image
from reelsmith.models.colorizers import Colorizer, select_colorizer
from reelsmith.ops.chroma import grey_of, luminance, to_lab


def test_ddcolor_shaped_graph_gives_unclamped_chroma_from_luminance_only(tmp_path):
    model = select_colorizer(str(make_colorizer_onnx(tmp_path / "ddcolor_tiny.onnx", size=32)))
    assert isinstance(model, Colorizer) and model.size == 32
    img = photo("chelsea")
    ab = model.colorize(img)
    assert model.kind == "ddcolor" and ab.shape == (32, 32, 2) and ab.dtype == np.float32
    assert np.abs(ab).max() > 5  # Lab units, not squeezed into [0, 1]
    # only the luminance is fed: the colour photo and its grey version give the same chroma
    assert np.allclose(model.colorize(grey_of(img)), ab, atol=0.5)
    assert np.allclose(model.colorize(img.astype(np.uint16) * 257), ab, atol=0.5)
    d = model.describe()
    assert d["backend"] == "onnxruntime" and d["contract"] == "ddcolor" and d["input_size"] == 32


def test_deoldify_class_graph_gives_the_chroma_of_its_rgb(tmp_path):
    path = make_colorizer_onnx(tmp_path / "deoldify_tiny.onnx", size=None, rgb_out=True)
    model = select_colorizer(str(path), render_size=96)
    assert model is not None and model.size == 96  # a free input size runs at render_size
    ab = model.colorize(photo("coffee"))
    assert model.kind == "rgb" and ab.shape == (96, 96, 2)


def test_selection_refuses_what_is_not_a_colorizer(tmp_path):
    assert select_colorizer("builtin") is None
    assert select_colorizer("auto") is None  # nothing installed in the test's models dir
    with pytest.raises(ModelError, match="colorize"):
        select_colorizer(str(make_sr_onnx(tmp_path / "sr.onnx", scale=2)))
    pth = tmp_path / "ddcolor.pth"
    pth.write_bytes(b"not weights")
    with pytest.raises(ModelError, match="ONNX"):
        select_colorizer(str(pth))


def test_the_workflow_runs_a_model_keeps_luminance_and_hints_steer_it(tmp_path):
    img = photo("chelsea")[:128, :192]
    grey = grey_of(img)
    src = write_image(tmp_path / "grey.png", grey)
    onnx_path = make_colorizer_onnx(tmp_path / "ddcolor_tiny.onnx", size=64)
    r = reelsmith.run("colorize", src, output=tmp_path / "out.png", model=str(onnx_path))
    out, _ = read_image(r.output)
    assert r.metadata["mode"] == "model" and r.metadata["backend"] == "onnxruntime"
    assert np.abs(luminance(out) - luminance(grey)).mean() < 1.0
    assert np.abs(to_lab(out)[..., 1:]).mean() > 2  # the model's colour is there
    hints = true_hints(img, 0.01)
    (tmp_path / "h.json").write_text(json.dumps({"points": [
        {"x": int(x), "y": int(y), "color": [int(c) for c in img[y, x]]}
        for x, y in zip(hints.xs, hints.ys, strict=True)]}))
    r2 = reelsmith.run("colorize", inputs={"input": src, "hints": tmp_path / "h.json"},
                       output=tmp_path / "out2.png", model=str(onnx_path))
    out2, _ = read_image(r2.output)
    assert r2.metadata["mode"] == "model+hints"
    assert np.array_equal(out2[hints.ys, hints.xs], img[hints.ys, hints.xs])
    # near the hints the random model's colour gives way to the true colour
    err = lambda o: np.abs(o.astype(int) - img).mean()  # noqa: E731
    assert err(out2) < err(out) - 1
