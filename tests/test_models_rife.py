"""RIFE 4.x: our IFNet loads state dicts in the published key layout (random weights),
runs through the interpolator, and matches its ONNX form (img0, img1, timestep)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from modelgen import random_image  # noqa: E402

from reelsmith.errors import ModelError  # noqa: E402
from reelsmith.models import load_model, select_interpolator, select_upscaler  # noqa: E402
from reelsmith.models.rife import (  # noqa: E402
    ifnet_from_state_dict,
    make_random_ifnet,
    published_state_dict,
)

SMALL = {"widths": (32, 24, 16, 16), "n_conv": 2}


@pytest.fixture(scope="module")
def rife_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("rife")
    net = make_random_ifnet(enc="head", feat=8, **SMALL)
    sd = published_state_dict(net)
    # the Practical-RIFE release ships train_log/flownet.pkl saved from DataParallel
    torch.save({"module." + k: v for k, v in sd.items()}, d / "flownet.pkl")
    torch.save(sd, d / "rife-v4.x.pth")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = torch.rand(1, 3, 64, 64)
        torch.onnx.export(net, (a, a, torch.full((1, 1, 64, 64), 0.5)), str(d / "rife.onnx"),
                          dynamo=False, opset_version=17,
                          input_names=["img0", "img1", "timestep"], output_names=["output"],
                          dynamic_axes={k: {2: "H", 3: "W"}
                                        for k in ("img0", "img1", "timestep", "output")})
    return d, net


def test_published_key_layout():
    sd = published_state_dict(make_random_ifnet(enc="head", **SMALL))
    for key in ("block0.conv0.0.0.weight", "block0.conv0.1.0.weight",
                "block0.convblock.0.conv.weight", "block0.convblock.0.beta",
                "block0.lastconv.0.weight", "block3.lastconv.0.bias", "encode.cnn0.weight",
                "encode.cnn3.weight"):
        assert key in sd, key
    assert sd["block0.conv0.0.0.weight"].shape[1] == 7 + 2 * 8  # img0, img1, t, 2x8 features
    assert sd["block1.conv0.0.0.weight"].shape[1] == 12 + 2 * 8
    assert sd["block0.lastconv.0.weight"].shape[1] == 24  # 6 channels x PixelShuffle(2)
    seq = published_state_dict(make_random_ifnet(enc="seq2", feat=4, **SMALL))
    assert "encode.0.weight" in seq and "encode.1.weight" in seq


@pytest.mark.parametrize("variant", [dict(enc="head", feat=8), dict(enc="seq2", feat=4),
                                     dict(enc="none"), dict(enc="head", feat=4, feat_pass=8,
                                                            widths=(32, 24, 16, 16, 8))])
def test_state_dict_roundtrip(variant):
    kw = {**SMALL, **variant}
    net = make_random_ifnet(**kw)
    rebuilt = ifnet_from_state_dict(published_state_dict(net))
    a, b = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    t = torch.full((1, 1, 64, 64), 0.3)
    with torch.no_grad():
        assert torch.equal(net(a, b, t), rebuilt(a, b, t))


def test_interpolator_from_pkl(rife_files):
    d, net = rife_files
    interp = select_interpolator(str(d / "flownet.pkl"), device="cpu")
    assert interp.model.purpose == "interpolate" and interp.backend == "pytorch"
    assert "RIFE" in interp.model.descriptor.architecture
    a, b = random_image(96, 160, seed=1), random_image(96, 160, seed=2)
    state = interp.prepare(a, b)
    mid = interp.interpolate(state, 0.5)
    assert mid.shape == a.shape and mid.dtype == np.uint8
    with torch.no_grad():
        ref = net(torch.from_numpy(state.a), torch.from_numpy(state.b),
                  torch.full((1, 1, 96, 160), 0.5))[0].numpy().transpose(1, 2, 0)
    assert np.abs(mid.astype(float) - np.rint(ref * 255)).max() <= 1
    meta = interp.describe()
    assert meta["name"] == "flownet" and meta["precision"] == "fp32"


def test_odd_size_frames_are_padded(rife_files):
    d, _ = rife_files
    interp = select_interpolator(str(d / "rife-v4.x.pth"), device="cpu")
    a = random_image(50, 70, np.uint16, seed=3)
    out = interp.interpolate(interp.prepare(a, a), 0.25)
    assert out.shape == (50, 70, 3) and out.dtype == np.uint16
    flat = np.full((64, 96, 3), 77, np.uint8)  # a flat frame stays flat whatever the flow
    assert np.abs(interp.interpolate(interp.prepare(flat, flat), 0.5).astype(int) - 77).max() <= 1


def test_onnx_form_matches_torch(rife_files):
    d, _ = rife_files
    onx = select_interpolator(str(d / "rife.onnx"))
    pth = select_interpolator(str(d / "rife-v4.x.pth"), device="cpu")
    assert onx.backend == "onnxruntime" and onx.model.descriptor.size_multiple == 32
    a, b = random_image(64, 96, seed=5), random_image(64, 96, seed=6)
    for t in (0.25, 0.5):
        x = onx.interpolate(onx.prepare(a, b), t)
        y = pth.interpolate(pth.prepare(a, b), t)
        assert np.abs(x.astype(int) - y).max() <= 1


def test_rife_errors(rife_files, tmp_path):
    d, _ = rife_files
    with pytest.raises(ModelError, match="interpolate model"):
        select_upscaler(str(d / "rife-v4.x.pth"))
    sd = torch.load(d / "rife-v4.x.pth", weights_only=True)
    del sd["block2.convblock.0.beta"]
    sd["block2.extra.weight"] = torch.zeros(1)
    broken = tmp_path / "broken.pth"
    torch.save(sd, broken)
    with pytest.raises(ModelError, match="RIFE"):
        load_model(broken)
