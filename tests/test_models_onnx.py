"""ONNX Runtime backend, tiling and selection, with tiny graphs built here."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from modelgen import make_interp_onnx, make_sr_onnx, random_image  # noqa: E402

from reelsmith.config import reset_settings
from reelsmith.errors import ModelError  # noqa: E402
from reelsmith.models import (  # noqa: E402
    ModelInterpolator,
    ModelUpscaler,
    import_model,
    load_model,
    select_interpolator,
    select_upscaler,
)
from reelsmith.models.onnx_backend import choose_providers, get_session  # noqa: E402
from reelsmith.models.tiling import run_tiled, run_tiled_with_retry, tile_starts  # noqa: E402


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    make_sr_onnx(d / "sr2.onnx", scale=2, depth=2)
    make_sr_onnx(d / "sr4.onnx", scale=4, depth=1, seed=3)
    make_sr_onnx(d / "sr2_fp16.onnx", scale=2, depth=2, fp16=True)
    make_sr_onnx(d / "sr2_fixed.onnx", scale=2, depth=2, fixed=(32, 32), batch=1)
    make_interp_onnx(d / "rife_like.onnx")
    make_interp_onnx(d / "rife_like_t111.onnx", time_shape="scalar")
    make_interp_onnx(d / "rife_like_7ch.onnx", concat=True)
    return d


def test_scale_and_purpose_detected_from_graph(onnx_dir):
    m = load_model(onnx_dir / "sr4.onnx")
    assert (m.purpose, m.scale, m.backend) == ("upscale", 4, "onnxruntime")
    assert m.provider == "CPUExecutionProvider"
    x = np.random.default_rng(0).random((2, 3, 20, 28), dtype=np.float32)
    y = m(x)
    assert y.shape == (2, 3, 80, 112) and y.dtype == np.float32
    d = m.describe()
    assert {"name", "backend", "provider", "precision", "scale"} <= set(d)


def test_session_cached_per_model(onnx_dir):
    providers = choose_providers("cpu")
    s1 = get_session(onnx_dir / "sr2.onnx", providers)
    s2 = get_session(onnx_dir / "sr2.onnx", providers)
    assert s1 is s2
    assert load_model(onnx_dir / "sr2.onnx").session is s1


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_upscaler_keeps_dtype_and_scales(onnx_dir, dtype):
    up = ModelUpscaler(load_model(onnx_dir / "sr2.onnx"), tile=32)
    img = random_image(50, 70, dtype)
    out = up.upscale(img)
    assert out.shape == (100, 140, 3) and out.dtype == dtype
    meta = up.describe()
    assert meta["scale"] == 2 and meta["tile_size"] == 32 and meta["backend"] == "onnxruntime"


def test_tiled_equals_untiled_with_feather(onnx_dir):
    # receptive radius 3 <= (overlap 16 - feather 8) / 2
    m = load_model(onnx_dir / "sr2.onnx")
    img = random_image(90, 130).astype(np.float32) / 255
    full = m.run(img.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0)
    tiled = run_tiled(img, m.run, scale=2, tile=40, overlap=16, feather=8)
    assert tiled.shape == full.shape
    assert np.abs(tiled - full).max() < 1 / 255
    # whole uint8 path: tiled == untiled within 1 code value
    a = ModelUpscaler(m, tile=40, overlap=16).upscale(random_image(90, 130))
    b = ModelUpscaler(m, tile=4096).upscale(random_image(90, 130))
    assert np.abs(a.astype(int) - b).max() <= 1


def test_hard_cut_blend_and_batching_match(onnx_dir):
    m = load_model(onnx_dir / "sr2.onnx")
    img = random_image(64, 100, seed=5).astype(np.float32) / 255
    full = m.run(img.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0)
    cut = run_tiled(img, m.run, scale=2, tile=32, overlap=8, feather=0)
    batched = run_tiled(img, m.run, scale=2, tile=32, overlap=8, feather=0, batch_size=4)
    assert np.abs(cut - full).max() < 1e-4
    assert np.abs(batched - cut).max() < 1e-5


def test_small_overlap_is_still_seamless():
    # a model with a large receptive field: no exactness promise, but blending keeps the
    # result close (no hard seams) and every pixel is covered
    def blur_up(x):
        from scipy.ndimage import uniform_filter
        y = uniform_filter(x, size=(1, 1, 9, 9), mode="nearest")
        return y.repeat(2, axis=2).repeat(2, axis=3)

    img = random_image(60, 60, seed=2).astype(np.float32) / 255
    full = blur_up(img.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0)
    tiled = run_tiled(img, blur_up, scale=2, tile=24, overlap=8)
    assert np.abs(tiled - full).mean() < 0.01


def test_tile_starts_cover_and_overlap():
    for length, tile, ov in [(100, 32, 8), (33, 32, 8), (1000, 256, 16), (32, 32, 8)]:
        starts = tile_starts(length, tile, ov)
        assert starts[0] == 0 and starts[-1] + min(tile, length) == length
        for a, b in zip(starts, starts[1:], strict=False):
            assert a + tile - b >= ov


def test_padding_to_size_multiple():
    seen = []

    def run(x):
        seen.append(x.shape)
        assert x.shape[2] % 8 == 0 and x.shape[3] % 8 == 0
        return x.repeat(2, axis=2).repeat(2, axis=3)

    img = random_image(37, 45).astype(np.float32) / 255
    out = run_tiled(img, run, scale=2, tile=1000, multiple=8)
    assert out.shape == (74, 90, 3) and seen == [(1, 3, 40, 48)]
    assert np.abs(out[::2, ::2] - img).max() < 1e-6


def test_fixed_input_shape_graph(onnx_dir):
    fixed = load_model(onnx_dir / "sr2_fixed.onnx")
    assert fixed.descriptor.fixed_size == (32, 32) and fixed.max_batch == 1
    dyn = load_model(onnx_dir / "sr2.onnx")
    img = random_image(70, 50, seed=4)
    a = ModelUpscaler(fixed).upscale(img)
    b = ModelUpscaler(dyn, tile=4096).upscale(img)
    assert a.shape == (140, 100, 3)
    assert np.abs(a.astype(int) - b).max() <= 1
    small = random_image(20, 24, seed=4)  # smaller than the fixed shape: padded
    assert ModelUpscaler(fixed).upscale(small).shape == (40, 48, 3)


def test_fp16_graph_is_fed_fp16(onnx_dir):
    m16 = load_model(onnx_dir / "sr2_fp16.onnx")
    assert m16.precision == "fp16"
    img = random_image(40, 40, seed=6)
    a = ModelUpscaler(m16, tile=4096).upscale(img)
    b = ModelUpscaler(load_model(onnx_dir / "sr2.onnx"), tile=4096).upscale(img)
    assert np.abs(a.astype(int) - b).max() <= 2


def test_output_scale_differs_from_model_scale(onnx_dir):
    up = ModelUpscaler(load_model(onnx_dir / "sr4.onnx"), scale=2, tile=64)
    out = up.upscale(random_image(30, 40))
    assert out.shape == (60, 80, 3)
    assert up.describe()["model_scale"] == 4


def test_out_of_memory_retries_smaller_tiles_then_errors():
    calls = []

    def picky(x):
        calls.append(x.shape[2])
        if x.shape[2] > 40:
            raise MemoryError("simulated: failed to allocate")
        return x.repeat(2, axis=2).repeat(2, axis=3)

    img = random_image(100, 100).astype(np.float32) / 255
    tiles = []
    out = run_tiled_with_retry(img, picky, scale=2, tile=128, overlap=8, on_retry=tiles.append)
    assert out.shape == (200, 200, 3) and tiles == [64, 32]
    assert np.abs(out[::2, ::2] - img).max() < 1e-6

    def never(x):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(ModelError, match="out of memory"):
        run_tiled_with_retry(img, never, scale=2, tile=64)


def test_non_oom_errors_are_not_retried():
    def broken(x):
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError):
        run_tiled_with_retry(np.zeros((50, 50, 3), np.float32), broken, scale=2, tile=64)


@pytest.mark.parametrize("name", ["rife_like.onnx", "rife_like_t111.onnx", "rife_like_7ch.onnx"])
def test_interpolation_graphs(onnx_dir, name):
    interp = select_interpolator(str(onnx_dir / name))
    assert isinstance(interp, ModelInterpolator)
    assert interp.model.purpose == "interpolate"
    a = random_image(50, 70, seed=1)
    b = random_image(50, 70, seed=2)
    state = interp.prepare(a, b)
    mid = interp.interpolate(state, 0.25)
    expect = a.astype(np.float64) * 0.75 + b.astype(np.float64) * 0.25
    assert mid.shape == a.shape and mid.dtype == np.uint8
    assert np.abs(mid - expect).max() <= 1
    assert np.array_equal(interp.interpolate(state, 0.0), a)
    assert interp.describe()["backend"] == "onnxruntime"


def test_wrong_purpose_errors(onnx_dir):
    with pytest.raises(ModelError, match="upscale model"):
        select_interpolator(str(onnx_dir / "sr2.onnx"))
    with pytest.raises(ModelError, match="interpolat"):
        select_upscaler(str(onnx_dir / "rife_like.onnx"))
    # the call shape is settled when the model is loaded, not on its first frame
    with pytest.raises(ModelError, match="interpolat"):
        load_model(onnx_dir / "sr2.onnx", purpose="interpolate")
    with pytest.raises(ModelError, match="interpolate model; it cannot be used to upscale"):
        load_model(onnx_dir / "rife_like.onnx", purpose="upscale")
    sr = load_model(onnx_dir / "sr2.onnx")
    with pytest.raises(TypeError):
        sr.run(np.zeros((1, 3, 8, 8), np.float32), np.zeros((1, 3, 8, 8), np.float32), 0.5)
    with pytest.raises(ModelError, match="not a frame interpolation model"):
        ModelInterpolator(sr)
    with pytest.raises(ModelError, match="not a single-image model"):
        ModelUpscaler(load_model(onnx_dir / "rife_like.onnx"))


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="RealESRGAN_x4plus"):
        select_upscaler("RealESRGAN_x4plu")
    with pytest.raises(ModelError, match="not installed"):
        select_upscaler("realesr-animevideov3")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(ModelError, match="could not load"):
        load_model(bad)


def test_builtin_and_auto_selection(onnx_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("REELSMITH_MODELS", str(tmp_path / "models"))
    reset_settings()
    assert select_upscaler("builtin") is None
    assert select_upscaler("auto", scale=2) is None
    assert select_interpolator("auto") is None
    import_model(onnx_dir / "sr4.onnx")
    import_model(onnx_dir / "sr2.onnx")
    import_model(onnx_dir / "rife_like.onnx")
    up2 = select_upscaler("auto", scale=2)
    assert up2 is not None and up2.name == "sr2" and up2.scale == 2
    up4 = select_upscaler("auto", scale=4)
    assert up4 is not None and up4.name == "sr4"
    up3 = select_upscaler("auto", scale=3)  # no x3: the x4 model, resized down
    assert up3 is not None and up3.name == "sr4" and up3.scale == 3
    assert up3.upscale(random_image(20, 20)).shape == (60, 60, 3)
    by_name = select_upscaler("sr2")
    assert by_name is not None and by_name.model.scale == 2
    it = select_interpolator("auto")
    assert it is not None and it.name == "rife_like"


def test_provider_preference_is_configurable(onnx_dir, monkeypatch):
    assert choose_providers("auto")[-1] == "CPUExecutionProvider"
    assert choose_providers("cpu") == ["CPUExecutionProvider"]
    monkeypatch.setenv("REELSMITH_ORT_PROVIDERS", "warp-drive")
    reset_settings()
    with pytest.raises(ModelError, match="Unknown ONNX Runtime provider"):
        choose_providers("auto")
    monkeypatch.setenv("REELSMITH_ORT_PROVIDERS", "cpu")
    reset_settings()
    assert load_model(onnx_dir / "sr2.onnx").provider == "CPUExecutionProvider"
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(ModelError, match="onnxruntime-gpu"):
            load_model(onnx_dir / "sr2.onnx", device="cuda")
    monkeypatch.setenv("REELSMITH_ORT_THREADS", "1")
    reset_settings()
    assert load_model(onnx_dir / "sr2.onnx").describe()["threads"] == 1


def test_automatic_tile_size(onnx_dir):
    from reelsmith.models.tiling import auto_tile_size

    assert auto_tile_size(scale=4, free_bytes=64 * 1024**3) == 1024
    small = auto_tile_size(scale=4, free_bytes=256 * 1024**2)
    assert 32 <= small < 1024 and small % 32 == 0
    assert auto_tile_size(scale=4, multiple=48, free_bytes=1) % 48 == 0
    up = ModelUpscaler(load_model(onnx_dir / "sr2.onnx"))
    assert up.upscale(random_image(40, 60)).shape == (80, 120, 3)
    assert isinstance(up.describe()["tile_size"], int)


def test_interpolation_out_of_memory_is_a_clear_error(onnx_dir, monkeypatch):
    interp = select_interpolator(str(onnx_dir / "rife_like.onnx"))

    def oom(*a, **k):
        raise MemoryError("failed to allocate")

    monkeypatch.setattr(interp.model, "run", oom)
    a = random_image(32, 32)
    with pytest.raises(ModelError, match="out of memory"):
        interp.interpolate(interp.prepare(a, a), 0.5)


def test_vs_mlrt_rife_v1_form_gets_its_warp_constants(tmp_path):
    """vs-mlrt's default RIFE ONNX takes one 11-channel input whose last four planes are the
    flow divisor and the sampling grid; it used to be refused as an image model."""
    from modelgen import make_rife_v1_onnx

    from reelsmith.models import InterpolationModel

    path = make_rife_v1_onnx(tmp_path / "rife_v4.6_v1.onnx")
    model = load_model(path, purpose="interpolate", device="cpu")
    assert isinstance(model, InterpolationModel)
    h, w = 32, 64
    rng = np.random.default_rng(3)
    a = rng.random((1, 3, h, w), dtype=np.float32)
    b = np.ascontiguousarray(np.repeat(np.linspace(0, 1, w, dtype=np.float32)[None, None, None, :],
                                       h, axis=2).repeat(3, axis=1))
    out = model(a, b, 1.0)  # t=1: img1 sampled 2 px to the right through the grid
    expected = np.concatenate([b[..., 2:], np.repeat(b[..., -1:], 2, axis=3)], axis=3)
    assert np.abs(out - expected).max() < 1e-5
    assert np.abs(model(a, b, 0.0) - a).max() < 1e-6
