"""PyTorch backend via spandrel: tiny real architectures with random weights, saved as
.pth and .safetensors, reloaded, compared with their ONNX export."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("spandrel")
pytest.importorskip("onnxruntime")

from modelgen import random_image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from reelsmith.errors import ModelError  # noqa: E402
from reelsmith.models import ModelUpscaler, load_model, select_upscaler  # noqa: E402


def _nets():
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN
    from spandrel.architectures.RCAN import RCAN

    torch.manual_seed(0)
    return {
        "compact_x4": (Compact(num_feat=8, num_conv=2, upscale=4), 4, "RealESRGAN Compact"),
        "rrdb_x4": (ESRGAN(num_filters=8, num_blocks=1, scale=4), 4, "ESRGAN"),
        "rcan_x2": (RCAN(scale=2, n_resgroups=1, n_resblocks=1, n_feats=16, reduction=4), 2,
                    "RCAN"),
    }


def export_onnx(net, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.rand(1, 3, 32, 32),), str(path), dynamo=False,
                          opset_version=17, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "N", 2: "H", 3: "W"},
                                        "output": {0: "N", 2: "OH", 3: "OW"}})
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("torch")
    out = {}
    for name, (net, scale, arch) in _nets().items():
        sd = {k: v.contiguous() for k, v in net.state_dict().items()}
        torch.save(sd, d / f"{name}.pth")
        save_file(sd, str(d / f"{name}.safetensors"))
        if name != "rcan_x2":  # RCAN's rgb_range scaling lives outside the exported graph
            export_onnx(net, d / f"{name}.onnx")
        out[name] = (scale, arch)
    return d, out


@pytest.mark.parametrize("name", ["compact_x4", "rrdb_x4", "rcan_x2"])
def test_pth_safetensors_onnx_agree(saved, name):
    d, info = saved
    scale, arch = info[name]
    x = np.random.default_rng(1).random((1, 3, 24, 20), dtype=np.float32)
    pth = load_model(d / f"{name}.pth", device="cpu")
    st = load_model(d / f"{name}.safetensors", device="cpu")
    assert (pth.backend, pth.purpose, pth.scale) == ("pytorch", "upscale", scale)
    assert pth.descriptor.architecture == arch  # spandrel's name for the detected layout
    assert st.descriptor.format == "safetensors"
    y1, y2 = pth.run(x), st.run(x)
    assert y1.shape == (1, 3, 24 * scale, 20 * scale)
    assert np.abs(y1 - y2).max() == 0
    assert pth.describe()["provider"] == "cpu" and pth.precision == "fp32"
    if not (d / f"{name}.onnx").exists():
        return
    onx = load_model(d / f"{name}.onnx", device="cpu")
    assert onx.scale == scale
    y3 = onx.run(x)
    assert np.abs(y1 - np.clip(y3, 0, 1)).max() < 1e-4  # spandrel clamps its output


def test_tiled_torch_equals_untiled(saved):
    d, _ = saved
    up_tiled = select_upscaler(str(d / "compact_x4.pth"), device="cpu", tile=32, overlap=16)
    up_full = select_upscaler(str(d / "compact_x4.pth"), device="cpu", tile=4096)
    img = random_image(70, 90, seed=3)
    a, b = up_tiled.upscale(img), up_full.upscale(img)
    assert a.shape == (280, 360, 3)
    assert np.abs(a.astype(int) - b).max() <= 1
    assert up_tiled.describe()["backend"] == "pytorch"


def test_bf16_on_cpu(saved):
    d, _ = saved
    m32 = load_model(d / "compact_x4.pth", device="cpu")
    m16 = load_model(d / "compact_x4.pth", device="cpu", precision="bf16")
    assert m16.precision == "bf16"
    img = random_image(32, 32, seed=2)
    a = ModelUpscaler(m16, tile=4096).upscale(img)
    b = ModelUpscaler(m32, tile=4096).upscale(img)
    assert np.abs(a.astype(int) - b).mean() < 3


def test_pickle_with_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    bad = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(1), "payload": Evil()}, bad)
    with pytest.raises(ModelError, match="Refusing"):
        load_model(bad)
    assert not marker.exists()


def test_unknown_architecture_and_junk(tmp_path):
    p = tmp_path / "odd.safetensors"
    save_file({"foo.weight": torch.zeros(3, 3), "bar.bias": torch.zeros(3)}, str(p))
    with pytest.raises(ModelError, match="Architecture not recognised"):
        load_model(p)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="not a readable"):
        load_model(junk)
    bad_st = tmp_path / "bad.safetensors"
    bad_st.write_bytes(b"nope")
    with pytest.raises(ModelError, match="safetensors"):
        load_model(bad_st)


def test_nested_checkpoint_is_unwrapped(saved, tmp_path):
    d, _ = saved
    sd = torch.load(d / "compact_x4.pth", weights_only=True)
    p = tmp_path / "nested.pth"
    torch.save({"params_ema": sd}, p)
    m = load_model(p, purpose="upscale")
    assert m.scale == 4


def test_torch_wrong_purpose(saved):
    d, _ = saved
    from reelsmith.models import select_interpolator

    with pytest.raises(ModelError, match="upscale model"):
        select_interpolator(str(d / "compact_x4.pth"))
