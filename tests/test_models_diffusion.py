"""The diffusion layer on a tiny random SDXL-inpaint pipeline with adapters of the real
FaceID / FaceID Plus v2 / IP-Adapter shapes (tests/diffusiongen.py), on the CPU."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("diffusers")

import diffusiongen as dg  # noqa: E402

from reelsmith.config import reset_settings  # noqa: E402
from reelsmith.engine.context import JobContext  # noqa: E402
from reelsmith.errors import Cancelled, InputError, ModelError  # noqa: E402
from reelsmith.models.diffusion import load as dload  # noqa: E402
from reelsmith.models.diffusion.latent_preview import latents_to_rgb  # noqa: E402
from reelsmith.models.diffusion.memory import GIB, plan_memory  # noqa: E402
from reelsmith.ops.portrait_inpaint import (  # noqa: E402
    PIPELINE_FOLDER,
    InpaintRequest,
    PortraitInpainter,
    required_files,
    select_portrait_inpainter,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return dg.tiny_portrait_models(tmp_path_factory.mktemp("diffusion_models"))


@pytest.fixture
def models(built, monkeypatch):
    monkeypatch.setenv("REELSMITH_MODELS", str(built))
    monkeypatch.delenv("REELSMITH_LICENSE_PROFILE", raising=False)
    reset_settings()
    yield built
    reset_settings()


@pytest.fixture
def empty_models(tmp_path, monkeypatch):
    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setenv("REELSMITH_MODELS", str(root))
    monkeypatch.delenv("REELSMITH_LICENSE_PROFILE", raising=False)
    reset_settings()
    yield root
    reset_settings()


def _scene(h: int = 96, w: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w * 200 + 30, yy / h * 180 + 40, (xx + yy) / (h + w) * 120 + 60], -1)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def _face_mask(h: int, w: int, cx: int, cy: int, r: int) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    cv2.circle(m, (cx, cy), r, 1.0, -1)
    return np.clip(cv2.GaussianBlur(m, (0, 0), r / 6), 0, 1)


def _embedding(seed: int) -> np.ndarray:
    e = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return e / np.linalg.norm(e)


def _req(**kw) -> InpaintRequest:
    base = dict(prompt="a portrait photo", seed=3, steps=4, denoise=1.0, stop_at=1.0, size=64)
    base.update(kw)
    return InpaintRequest(**base)


def _decode(uri: str) -> np.ndarray:
    data = base64.b64decode(uri.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


# -- loading ------------------------------------------------------------------------------
def test_load_directory_is_cached_and_placed_on_cpu(models):
    a = dload.load_pipeline("StableDiffusionXLInpaintPipeline", models / PIPELINE_FOLDER)
    b = dload.load_pipeline("StableDiffusionXLInpaintPipeline", models / PIPELINE_FOLDER)
    assert a is b
    assert (a.device, a.dtype, a.plan.placement) == ("cpu", "fp32", "cpu")
    assert a.pipe.unet.config.in_channels == 9


def test_broken_directory_and_single_file_without_config_are_model_errors(models, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(models / PIPELINE_FOLDER, broken)
    for f in (broken / "unet").glob("*.safetensors"):
        f.unlink()
    with pytest.raises(ModelError, match=r"incomplete.*unet"):
        dload.load_pipeline("StableDiffusionXLInpaintPipeline", broken)
    with pytest.raises(ModelError, match="do not exist"):
        dload.load_pipeline("StableDiffusionXLInpaintPipeline", tmp_path / "nowhere")
    single = tmp_path / "sdxl-inpaint.safetensors"
    single.write_bytes(b"\0" * 16)
    with pytest.raises(ModelError, match="configuration"):
        dload.load_pipeline("StableDiffusionXLInpaintPipeline", single)
    with pytest.raises(ModelError, match="no pipeline"):
        dload.load_pipeline("NoSuchPipeline", models / PIPELINE_FOLDER)


def test_diffusers_missing_says_what_to_install(empty_models, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "diffusers" else real(name, *a))
    why = dload.diffusers_missing()
    assert why and "diffusers" in why and "pip install 'reelsmith[diffusion]'" in why
    inp, reason = select_portrait_inpainter("auto")
    assert inp is None and "reelsmith[diffusion]" in reason
    with pytest.raises(ModelError, match=r"reelsmith\[diffusion\]"):
        select_portrait_inpainter("diffusers")


# -- adapters -------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["faceid", "faceid_plus_v2"])
def test_face_embedding_changes_the_result(models, mode):
    inp = PortraitInpainter(mode)
    img = _scene()
    mask = _face_mask(96, 96, 48, 44, 18)
    face = _scene(40, 40, seed=5)
    ctx = JobContext()
    a = inp.inpaint(ctx, img, mask, _req(face_embedding=_embedding(1), face_image=face))
    a2 = inp.inpaint(ctx, img, mask, _req(face_embedding=_embedding(1), face_image=face))
    b = inp.inpaint(ctx, img, mask, _req(face_embedding=_embedding(2), face_image=face))
    assert np.array_equal(a, a2)
    inside = mask > 0.5
    assert np.abs(a.astype(int) - b.astype(int))[inside].mean() > 1.0
    assert inp.describe()["adapter"] == ("ip-adapter-faceid-sdxl" if mode == "faceid"
                                         else "ip-adapter-faceid-plusv2-sdxl")


def test_clip_modes_use_the_face_images(models):
    img, mask = _scene(), _face_mask(96, 96, 48, 48, 20)
    face, ref = _scene(48, 48, seed=7), _scene(48, 48, seed=8)[::-1].copy()
    std = PortraitInpainter("standard")
    assert std.needs == frozenset({"face_image"})
    with pytest.raises(InputError, match="face_image"):
        std.inpaint(JobContext(), img, mask, _req())
    s1 = std.inpaint(JobContext(), img, mask, _req(face_image=face))
    s2 = std.inpaint(JobContext(), img, mask, _req(face_image=ref))
    assert np.abs(s1.astype(int) - s2.astype(int))[mask > 0.5].mean() > 0.5
    blend = PortraitInpainter("clip_blend")
    b0 = blend.inpaint(JobContext(), img, mask, _req(face_image=face, reference_face=ref, face_strength=0.0))
    b1 = blend.inpaint(JobContext(), img, mask, _req(face_image=face, reference_face=ref, face_strength=1.0))
    assert np.abs(b0.astype(int) - b1.astype(int))[mask > 0.5].mean() > 0.5


# -- crop / paste, progress, previews, cancel, seeds -----------------------------------------
def test_small_face_in_large_image_generated_at_size_and_pasted_back(models):
    h, w = 320, 448
    img = _scene(h, w, seed=2)
    mask = _face_mask(h, w, 330, 90, 16)
    events = []
    ctx = JobContext(on_progress=events.append, min_interval_s=0.0, preview_interval_s=0.0)
    out = PortraitInpainter("simple_inpaint").inpaint(ctx, img, mask, _req(size=128, steps=5))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out[mask == 0], img[mask == 0])  # outside the mask: bit-identical
    inside = mask > 0.9
    assert np.abs(out.astype(int) - img.astype(int))[inside].mean() > 2.0
    previews = [_decode(e.preview) for e in events if e.preview]
    assert previews and all(p.shape[:2] == (64, 64) for p in previews)  # 128 px / VAE factor 2


def test_step_progress_previews_and_cancel(models):
    inp = PortraitInpainter("simple_inpaint")
    img, mask = _scene(), _face_mask(96, 96, 48, 48, 20)
    events = []
    ctx = JobContext(on_progress=events.append, min_interval_s=0.0, preview_interval_s=0.0)
    ctx.stage("inpaint", 0.0, 1.0)
    inp.inpaint(ctx, img, mask, _req(steps=10))
    steps = [e for e in events if e.done is not None and e.preview is None]
    assert [e.done for e in steps] == list(range(1, 11)) and {e.total for e in steps} == {10}
    with_preview = [e for e in events if e.preview]
    assert [e.done for e in with_preview] == [5, 10]
    assert all(e.preview.startswith("data:image/jpeg;base64,") for e in with_preview)

    seen = []
    ctx2 = JobContext(min_interval_s=0.0)

    def listener(ev):
        if ev.done is not None:
            seen.append(ev.done)
            if ev.done == 3:
                ctx2.cancel()
    ctx2.subscribe(listener)
    with pytest.raises(Cancelled):
        inp.inpaint(ctx2, img, mask, _req(steps=10))
    assert max(seen) == 3  # stopped at the step where the cancel came


def test_denoise_and_stop_at_cut_the_step_count(models):
    events = []
    ctx = JobContext(on_progress=events.append, min_interval_s=0.0)
    PortraitInpainter("simple_inpaint").inpaint(ctx, _scene(), _face_mask(96, 96, 48, 48, 20),
                                                _req(steps=10, denoise=0.5, stop_at=1.0))
    totals = {e.total for e in events if e.total}
    assert totals == {5}


def test_seed_reproduces_and_a_different_seed_differs(models):
    inp = PortraitInpainter("simple_inpaint")
    img, mask = _scene(), _face_mask(96, 96, 40, 50, 20)
    a = inp.inpaint(JobContext(), img, mask, _req(seed=11))
    b = inp.inpaint(JobContext(), img, mask, _req(seed=11))
    c = inp.inpaint(JobContext(), img, mask, _req(seed=12))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


_TWO_THREADS = """
import sys, threading
import numpy as np
sys.path[:0] = sys.argv[1:3]
from test_models_diffusion import _face_mask, _req, _scene
from reelsmith.engine.context import JobContext
from reelsmith.ops.portrait_inpaint import PortraitInpainter
inp = PortraitInpainter("simple_inpaint")
img, mask = _scene(), _face_mask(96, 96, 48, 48, 20)
ref = inp.inpaint(JobContext(), img, mask, _req(seed=4))
outs = [None, None]
def work(k):
    outs[k] = inp.inpaint(JobContext(), img, mask, _req(seed=4))
threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
sys.exit(0 if all(np.array_equal(o, ref) for o in outs) else 1)
"""


@pytest.mark.skip(reason="known bug: two threads calling one cached pipeline intermittently stall "
                         "with two threads spinning (seen in a fresh process too); until it is found, "
                         "run diffusion jobs with one worker")
def test_two_threads_share_one_pipeline_safely(models):
    """Two threads on one cached pipeline get the seed's result each (in a fresh process)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", _TWO_THREADS, str(root / "tests"), str(root)],
                          env=os.environ.copy(), timeout=300, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_bad_inputs_are_input_errors(models):
    inp = PortraitInpainter("simple_inpaint")
    img = _scene()
    with pytest.raises(InputError, match="empty"):
        inp.inpaint(JobContext(), img, np.zeros((96, 96), np.float32), _req())
    with pytest.raises(InputError, match="must match"):
        inp.inpaint(JobContext(), img, np.ones((10, 10), np.float32), _req())
    with pytest.raises(InputError, match="512"):
        PortraitInpainter("faceid").inpaint(JobContext(), img, _face_mask(96, 96, 48, 48, 20),
                                            _req(face_embedding=np.ones(128, np.float32)))


# -- memory plan, previews -------------------------------------------------------------------
@pytest.mark.parametrize("free,total,model,pixels,placement,tiling,attn", [
    (None, None, 7 * GIB, 1024 * 1024, "cpu", False, False),
    (None, None, 7 * GIB, 2048 * 2048, "cpu", True, False),
    (70 * GIB, 80 * GIB, 7 * GIB, 1024 * 1024, "gpu", False, False),
    (70 * GIB, 80 * GIB, 7 * GIB, 2048 * 2048, "gpu", True, False),
    (10 * GIB, 12 * GIB, 7 * GIB, 1024 * 1024, "model_offload", True, False),
    (7 * GIB, 8 * GIB, 7 * GIB, 1024 * 1024, "model_offload", True, True),
    (4 * GIB, 6 * GIB, 7 * GIB, 1024 * 1024, "sequential_offload", True, True),
])
def test_plan_memory_table(free, total, model, pixels, placement, tiling, attn):
    plan = plan_memory(free, total, model, pixels)
    assert (plan.placement, plan.vae_tiling, plan.attention_slicing) == (placement, tiling, attn)
    assert plan.vae_slicing == placement.endswith("offload")
    assert plan.reason


def test_latent_previews_project_linearly():
    import torch

    zero = latents_to_rgb(torch.zeros(1, 4, 8, 8), "sdxl")
    assert zero.shape == (8, 8, 3) and zero.dtype == np.uint8
    assert np.allclose(zero[0, 0], np.rint((np.array([0.1084, -0.0175, -0.0011]) + 1) * 127.5), atol=1)
    lat = torch.zeros(1, 4, 8, 8)
    lat[:, 0] = 1.0  # the SDXL luma channel: brighter in every colour
    assert (latents_to_rgb(lat, "sdxl").astype(int) > zero.astype(int)).all()
    video = latents_to_rgb(torch.randn(1, 16, 3, 6, 10), "hunyuan_video")
    assert video.shape == (6, 10, 3)
    other = latents_to_rgb(np.random.default_rng(0).normal(size=(1, 12, 5, 5)), "unknown")
    assert other.shape == (5, 5, 3) and other.max() == 255 and other.min() == 0


# -- selection -------------------------------------------------------------------------------
def test_select_without_weights(empty_models):
    assert select_portrait_inpainter("builtin") == (None, "the builtin compositor was asked for")
    inp, reason = select_portrait_inpainter("auto")
    assert inp is None and PIPELINE_FOLDER in reason and str(empty_models) in reason
    with pytest.raises(ModelError, match=PIPELINE_FOLDER):
        select_portrait_inpainter("diffusers")
    with pytest.raises(ModelError, match="ip-adapter-faceid-plusv2_sdxl.bin"):
        select_portrait_inpainter("diffusers", "faceid_plus_v2")
    with pytest.raises(InputError):
        select_portrait_inpainter("nope")
    assert any("image_encoder" in f for f in required_files("faceid_plus_v2"))
    assert not any("image_encoder" in f for f in required_files("faceid"))


def test_select_modes_and_licence_profile(models, monkeypatch):
    inp, reason = select_portrait_inpainter("auto")
    assert inp.mode == "faceid_plus_v2" and "faceid_plus_v2" in reason
    assert select_portrait_inpainter("diffusers", "faceid")[0].mode == "faceid"
    monkeypatch.setenv("REELSMITH_LICENSE_PROFILE", "commercial")
    reset_settings()
    inp, reason = select_portrait_inpainter("auto")
    assert inp.mode == "standard" and "licence" in reason
    with pytest.raises(ModelError, match="ip-adapter-faceid-sdxl"):
        select_portrait_inpainter("diffusers", "faceid")
    desc = inp.describe()
    assert desc["backend"] == "diffusers" and desc["name"] == "sdxl-inpainting-0.1"
    assert desc["licence"]["sdxl-inpainting-0.1"]["commercial"] is True


def test_select_falls_back_to_faceid_when_plus_v2_is_absent(models, tmp_path, monkeypatch):
    root = tmp_path / "m"
    root.mkdir()
    (root / PIPELINE_FOLDER).symlink_to(models / PIPELINE_FOLDER)
    (root / "ip-adapter").mkdir()
    shutil.copy(models / "ip-adapter" / dg.FACEID_FILE, root / "ip-adapter")
    monkeypatch.setenv("REELSMITH_MODELS", str(root))
    reset_settings()
    assert select_portrait_inpainter("auto")[0].mode == "faceid"
    with pytest.raises(ModelError, match="image_encoder"):
        select_portrait_inpainter("diffusers", "standard")
