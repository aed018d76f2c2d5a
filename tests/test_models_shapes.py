"""Call shapes: each purpose loads as its own class (tiny ONNX graphs with the real I/O
contracts), selection only reads the manifest, and the models package has no import cycle."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from modelgen import make_detect_onnx, make_interp_onnx, make_sr_onnx, make_swap_onnx  # noqa: E402

from reelsmith.errors import InputError, ModelError  # noqa: E402
from reelsmith.models import (  # noqa: E402
    FACE_DETECT,
    FACE_SWAP,
    INTERPOLATE,
    UPSCALE,
    ConditionedImageModel,
    DetectionModel,
    ImageModel,
    InterpolationModel,
    ModelUpscaler,
    installed_models,
    load_model,
    record_dropped_files,
    select_model,
    shape_for,
)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    d = tmp_path_factory.mktemp("shapes")
    make_sr_onnx(d / "sr2.onnx", scale=2, depth=1)
    make_interp_onnx(d / "blend.onnx")
    _, w = make_swap_onnx(d / "swap.onnx", embedding=8)
    make_swap_onnx(d / "swap16.onnx", embedding=8, fixed=(16, 16))
    make_detect_onnx(d / "detect.onnx", fixed=(32, 32))
    return d, w


@pytest.mark.parametrize(("file", "purpose", "shape"), [
    ("sr2.onnx", UPSCALE, ImageModel), ("blend.onnx", INTERPOLATE, InterpolationModel),
    ("swap.onnx", FACE_SWAP, ConditionedImageModel), ("detect.onnx", FACE_DETECT, DetectionModel),
])
def test_each_graph_loads_as_its_call_shape(graphs, file, purpose, shape):
    d, _ = graphs
    m = load_model(d / file)
    assert m.purpose == purpose and shape_for(purpose) is shape
    assert isinstance(m, shape)
    others = [s for s in (ImageModel, InterpolationModel, ConditionedImageModel, DetectionModel)
              if s is not shape]
    assert not any(isinstance(m, s) for s in others)
    assert load_model(d / file, purpose=purpose).purpose == purpose
    wrong = UPSCALE if purpose != UPSCALE else FACE_SWAP
    with pytest.raises(ModelError, match=f"cannot be used to {wrong}"):
        load_model(d / file, purpose=wrong)
    assert m.thread_safe and m.workers == 1


def test_conditioned_image_model_runs_image_and_embedding(graphs):
    d, w = graphs
    m = load_model(d / "swap.onnx", purpose=FACE_SWAP)
    assert m.embedding_size == 8 and m.descriptor.supports_tiling is False
    rng = np.random.default_rng(3)
    x = rng.random((2, 3, 10, 12), dtype=np.float32) * 0.5 + 0.25
    emb = rng.standard_normal((2, 8)).astype(np.float32)
    expect = x + (emb @ w)[:, :, None, None]
    np.testing.assert_allclose(m.run(x, emb), expect, atol=1e-5)
    np.testing.assert_allclose(m(x, emb), np.clip(expect, 0, 1), atol=1e-5)
    big = m(x, emb * 100)  # far outside [0, 1] before the contract clamps it
    assert big.min() >= 0.0 and big.max() <= 1.0 and {0.0, 1.0} <= set(np.unique(big))
    with pytest.raises(InputError, match="8-value embeddings"):
        m(x, np.zeros((2, 5), np.float32))
    with pytest.raises(InputError, match="one embedding row per image"):
        m(x, np.zeros((3, 8), np.float32))


def test_conditioned_fixed_size_is_padded_and_cropped(graphs):
    d, w = graphs
    m = load_model(d / "swap16.onnx")
    assert isinstance(m, ConditionedImageModel) and m.descriptor.fixed_size == (16, 16)
    x = np.random.default_rng(4).random((1, 3, 11, 13), dtype=np.float32) * 0.5
    emb = np.full((8,), 0.1, np.float32)  # one row for one image may come unbatched
    y = m(x, emb)
    assert y.shape == (1, 3, 11, 13)
    np.testing.assert_allclose(y, np.clip(x + (emb @ w)[None, :, None, None], 0, 1), atol=1e-5)
    with pytest.raises(InputError, match="at most 16x16"):
        m(np.zeros((1, 3, 17, 16), np.float32), emb)


def test_detection_model_returns_named_raw_outputs_with_zero_padding(graphs):
    d, _ = graphs
    m = load_model(d / "detect.onnx")
    assert m.output_names == ("scores", "peaks")
    x = np.random.default_rng(5).random((1, 3, 20, 24), dtype=np.float32)
    out = m(x)
    assert set(out) == {"scores", "peaks"} and out["scores"].shape == (1, 3)
    # zero padding to the fixed 32x32: the mean is over 1024 pixels, the max unchanged
    np.testing.assert_allclose(out["scores"][0], x[0].sum(axis=(1, 2)) / 1024, rtol=1e-5)
    np.testing.assert_allclose(out["peaks"][0], x[0].max(axis=(1, 2)), rtol=1e-6)


def test_image_and_interpolation_call_contract(graphs):
    d, _ = graphs
    sr = load_model(d / "sr2.onnx")
    y = sr(np.random.default_rng(6).random((1, 3, 9, 7), dtype=np.float32))
    assert y.shape == (1, 3, 18, 14) and y.min() >= 0.0 and y.max() <= 1.0
    blend = load_model(d / "blend.onnx")
    a, b = np.zeros((1, 3, 20, 30), np.float32), np.ones((1, 3, 20, 30), np.float32)
    assert blend.descriptor.size_multiple == 32
    mid = blend(a, b, 0.25)  # padded to 32x32 for the graph, cropped back
    assert mid.shape == (1, 3, 20, 30)
    np.testing.assert_allclose(mid, 0.25, atol=1e-6)
    assert ModelUpscaler(sr).workers == sr.workers == 1


def test_shape_for_unknown_purpose():
    with pytest.raises(ModelError, match="No call shape"):
        shape_for("teleport")


def test_selection_reads_only_and_list_records_dropped_files(graphs, tmp_path, monkeypatch,
                                                              capsys):
    d, _ = graphs
    root = tmp_path / "models"
    root.mkdir()
    (root / "dropped_x2.onnx").write_bytes((d / "sr2.onnx").read_bytes())
    (root / "dropped_blend.onnx").write_bytes((d / "blend.onnx").read_bytes())
    (root / "junk.onnx").write_bytes(b"not a graph")
    monkeypatch.setenv("REELSMITH_MODELS", str(root))
    up = select_model("auto", UPSCALE, scale=2)
    assert isinstance(up, ImageModel) and up.name == "dropped_x2"
    assert isinstance(select_model("auto", INTERPOLATE), InterpolationModel)
    assert select_model("auto", FACE_SWAP) is None
    assert select_model("builtin", UPSCALE) is None
    assert not (root / "manifest.json").exists()  # selection never writes
    assert all(m.purpose is None for m in installed_models())

    from reelsmith.cli import main

    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    assert (rows["dropped_x2"]["purpose"], rows["dropped_x2"]["scale"]) == ("upscale", 2)
    assert rows["dropped_blend"]["purpose"] == "interpolate"
    assert rows["junk"]["purpose"] == "unrecognised"
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["dropped_x2.onnx"]["purpose"] == "upscale"
    assert {m.name: m.purpose for m in record_dropped_files()}["dropped_blend"] == "interpolate"

