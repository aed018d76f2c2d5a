"""face_restore and face_swap end to end: real photos (scikit-image's bundled astronaut and
cameraman), real detectors and dlib's identity embedding, tiny models with the real I/O
contracts, a moving-face video with audio, the CLI and the post step."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from modelgen import make_arcface_onnx, make_gpen_onnx, make_inswapper_onnx

import reelsmith
from mediagen import psnr, write_tone
from reelsmith.cli import main
from reelsmith.config import reset_settings
from reelsmith.errors import InputError, ModelError
from reelsmith.media.images import read_image, write_image
from reelsmith.media.probe import probe
from reelsmith.media.reader import VideoReader
from reelsmith.workflows.backends import backend_metadata_problems

data = pytest.importorskip("skimage.data")
facephotos = pytest.importorskip("facephotos")


def _rgb(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.dstack([img] * 3) if img.ndim == 2 else img)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("photos")
    a = data.astronaut()
    rng = np.random.default_rng(3)
    import cv2

    soft = cv2.GaussianBlur(a, (0, 0), 1.2).astype(np.float64) + rng.normal(0, 10, a.shape)
    return {
        "astronaut": write_image(d / "astronaut.png", a),
        "degraded": write_image(d / "degraded.png", np.clip(soft, 0, 255).astype(np.uint8)),
        "camera": write_image(d / "camera.png", _rgb(data.camera())),
        "coffee": write_image(d / "coffee.png", data.coffee()),
        "tiny": write_image(d / "tiny.png", cv2.resize(a, (48, 48), interpolation=cv2.INTER_AREA)),
    }


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory) -> Path:
    """2 s at 25 fps with a 440 Hz tone: the astronaut's face gliding right at 2.5 px/frame
    (sub-pixel positions, so the detector sees a smooth path through resampling noise)."""
    import cv2

    path = tmp_path_factory.mktemp("faceclip") / "face.mp4"
    face = data.astronaut()[10:250, 120:330]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(25))
        vs.width, vs.height, vs.pix_fmt = 448, 272, "yuv420p"
        vs.options = {"crf": "16"}
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        for i in range(50):
            img = np.full((272, 448, 3), 96, np.uint8)
            img[:, :, 2] = 140
            m = np.float32([[1, 0, 20 + 2.5 * i], [0, 1, 16]])
            placed = cv2.warpAffine(face, m, (448, 272), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_TRANSPARENT, dst=img)
            vf = av.VideoFrame.from_ndarray(placed, format="rgb24")
            vf.pts = i
            for pkt in vs.encode(vf):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
        write_tone(out, audio, 2.0)
    return path


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setenv("REELSMITH_MODELS", str(root))
    reset_settings()
    yield root
    reset_settings()


def _mask(result) -> np.ndarray:
    return read_image(result.outputs["mask"])[0][..., 0].astype(np.float64) / 255.0


# -- face_restore ------------------------------------------------------------------------------

def test_builtin_restore_improves_the_face_and_leaves_the_rest(photos, tmp_path):
    res = reelsmith.run("face_restore", photos["degraded"], output=tmp_path / "r.png",
                        model="builtin", save_mask=True)
    m = res.metadata
    assert m["faces"] == 1 and m["faces_found"] == 1
    assert m["backends"]["face_restore"]["model"] == "builtin-face-enhance"
    assert backend_metadata_problems(m) == []
    clean = read_image(photos["astronaut"])[0]
    degraded = read_image(photos["degraded"])[0]
    out = read_image(res.outputs["image"])[0]
    mask = _mask(res)
    inside, outside = mask > 0.9, mask == 0
    assert inside.sum() > 5000 and outside.sum() > 100_000
    gain = psnr(out[inside], clean[inside]) - psnr(degraded[inside], clean[inside])
    assert gain > 0.8, gain  # denoised where the face is
    assert psnr(out[outside], degraded[outside]) > 40  # untouched elsewhere


def test_no_face_passes_the_image_through(photos, tmp_path):
    res = reelsmith.run("face_restore", photos["coffee"], output=tmp_path / "c.png")
    assert res.metadata["faces"] == 0 and "No face" in res.metadata["message"]
    assert np.array_equal(read_image(res.outputs["image"])[0], read_image(photos["coffee"])[0])


def test_faces_too_small_are_skipped_and_reported(photos, tmp_path):
    res = reelsmith.run("face_restore", photos["tiny"], output=tmp_path / "t.png", min_size=24)
    assert res.metadata["faces"] == 0
    if res.metadata["skipped_small"]:  # the face is ~12 px: found by some detectors, not all
        assert "smaller than 24 px" in res.metadata["message"]
    assert np.array_equal(read_image(res.outputs["image"])[0], read_image(photos["tiny"])[0])


def test_restore_model_by_path_runs_on_the_aligned_crop(photos, tmp_path):
    model = make_gpen_onnx(tmp_path / "GPEN-BFR-64.onnx", size=64)
    res = reelsmith.run("face_restore", photos["astronaut"], output=tmp_path / "g.png",
                        model=str(model), strength=1.0)
    role = res.metadata["backends"]["face_restore"]
    assert role["backend"] == "onnxruntime"
    assert res.metadata["face_details"][0]["crop_size"] == 64
    before, after = read_image(photos["astronaut"])[0], read_image(res.outputs["image"])[0]
    assert psnr(after, before) < 40  # |x| in [-1, 1] changed the face


def test_a_model_of_the_wrong_kind_is_named(photos, tmp_path):
    from modelgen import make_sr_onnx

    up = make_sr_onnx(tmp_path / "x2.onnx", scale=2)
    with pytest.raises(ModelError, match="x2.*upscale.*face_restore"):
        reelsmith.run("face_restore", photos["astronaut"], output=tmp_path / "w.png", model=str(up))
    assert not (tmp_path / "w.png").exists()


def test_bad_face_choice_is_an_input_error(photos, tmp_path):
    with pytest.raises(InputError, match="faces="):
        reelsmith.run("face_restore", photos["astronaut"], output=tmp_path / "b.png", faces="middle")


def test_restore_video_keeps_audio_and_the_face_does_not_jitter(face_clip, tmp_path):
    res = reelsmith.run("face_restore", face_clip, output=tmp_path / "v.mp4", model="builtin")
    src, dst = probe(face_clip), probe(res.output)
    assert dst.frame_count == src.frame_count == 50
    assert dst.has_audio and res.metadata["audio"] == "copy"
    assert abs(dst.duration - src.duration) < 0.05
    frames = res.metadata["face_frames"]
    assert frames["frames_with_faces"] >= 48 and frames["tracks"] == 1
    # the face glides at a constant 2.5 px/frame: its true second difference is 0; the
    # detector's own points wobble by ~0.5 px per frame here, the tracked ones by less
    assert frames["jitter_px"] < 0.5, frames
    # the background far from the face is what the encoder made of it before
    a = [f.image for f in VideoReader(face_clip)]
    b = [f.image for f in VideoReader(res.output)]
    assert min(psnr(x[:, -60:], y[:, -60:]) for x, y in zip(a[:10], b[:10], strict=True)) > 40


def test_face_restore_as_a_post_step(photos, tmp_path):
    res = reelsmith.run("upscale", photos["degraded"], output=tmp_path / "u.png", scale=2,
                        model="builtin", post=["face_restore:0.7,model=builtin"])
    assert res.metadata["output"]["width"] == 1024
    assert res.metadata["backends"]["post.face_restore"]["model"] == "builtin-face-enhance"
    with pytest.raises(InputError, match="face_restore"):
        reelsmith.run("upscale", photos["degraded"], output=tmp_path / "x.png",
                      post=["face_restore:2"])


# -- face_swap ---------------------------------------------------------------------------------

def test_builtin_swap_moves_identity_and_keeps_the_background(photos, tmp_path):
    res = reelsmith.run("face_swap", photos["astronaut"], photos["camera"], output=tmp_path / "s.png",
                        save_mask=True)
    m = res.metadata
    assert m["faces"] == 1 and m["backends"]["face_swap"]["model"] == "builtin-landmark-swap"
    ident = m["identity"]
    assert ident["to_source"] > ident["to_target"], ident
    # checked independently with dlib's own detector, landmarks and embedding
    out = read_image(res.outputs["image"])[0]
    rect = facephotos.face_rect("astronaut")
    e_out = facephotos.embedding(out, rect)
    d_src = np.linalg.norm(e_out - facephotos.embedding(facephotos.photo("camera"),
                                                        facephotos.face_rect("camera")))
    d_tgt = np.linalg.norm(e_out - facephotos.embedding(facephotos.photo("astronaut"), rect))
    assert d_src < d_tgt, (d_src, d_tgt)
    mask = _mask(res)
    before = read_image(photos["astronaut"])[0]
    assert psnr(out[mask == 0], before[mask == 0]) > 40


def test_source_without_a_face_is_named(photos, tmp_path):
    with pytest.raises(InputError, match="coffee.png"):
        reelsmith.run("face_swap", photos["astronaut"], photos["coffee"], output=tmp_path / "n.png")
    assert not (tmp_path / "n.png").exists()


def test_swap_model_with_arcface_and_pixel_boost(photos, tmp_path, models_dir):
    swapper = make_inswapper_onnx(models_dir / "inswapper_128.onnx")
    make_arcface_onnx(models_dir / "w600k_r50.onnx")
    res = reelsmith.run("face_swap", photos["astronaut"], photos["camera"], photos["astronaut"],
                        output=tmp_path / "m.png", model=str(swapper), pixel_boost=256,
                        identity_model="none")
    m = res.metadata
    assert m["backends"]["face_swap"]["backend"] == "onnxruntime"
    assert m["face_details"][0]["crop_size"] == 256 and m["sources"] == ["camera.png", "astronaut.png"]
    assert "identity" not in m
    assert psnr(read_image(res.outputs["image"])[0], read_image(photos["astronaut"])[0]) < 45


def test_swap_model_without_an_identity_model_says_so(photos, tmp_path, models_dir):
    swapper = make_inswapper_onnx(models_dir / "inswapper_128.onnx")
    with pytest.raises(ModelError, match="(?i)arcface"):
        reelsmith.run("face_swap", photos["astronaut"], photos["camera"], output=tmp_path / "e.png",
                      model=str(swapper), identity_model="none")


def test_commercial_profile_refuses_inswapper_on_the_cli(photos, tmp_path, models_dir, monkeypatch,
                                                           capsys):
    make_inswapper_onnx(models_dir / "inswapper_128.onnx")
    monkeypatch.setenv("REELSMITH_LICENSE_PROFILE", "commercial")
    reset_settings()
    code = main(["face-swap", "--source", str(photos["camera"]), str(photos["astronaut"]),
                 "-o", str(tmp_path / "l.png"), "--model", "inswapper_128"])
    err = capsys.readouterr().err
    assert code == 2 and "inswapper_128" in err and "commercial" in err
    assert "Traceback" not in err and not (tmp_path / "l.png").exists()


def test_cli_face_swap_takes_several_sources(photos, tmp_path, capsys):
    out = tmp_path / "cli.png"
    code = main(["face-swap", "--source", str(photos["camera"]), "--source", str(photos["camera"]),
                 str(photos["astronaut"]), "-o", str(out), "--identity-model", "none"])
    assert code == 0 and out.is_file()
    assert "faces:   1" in capsys.readouterr().out


def test_swap_video_keeps_audio(face_clip, photos, tmp_path):
    res = reelsmith.run("face_swap", face_clip, photos["camera"], output=tmp_path / "sv.mp4",
                        identity_model="none")
    dst = probe(res.output)
    assert dst.frame_count == 50 and dst.has_audio
    assert res.metadata["face_frames"]["frames_with_faces"] >= 48
    assert math.isfinite(res.metadata["face_frames"]["jitter_px"])


def test_runpod_worker_contract_swaps_with_named_sources(photos):
    """The worker's input: the target in ``video_base64``, the source photos in ``inputs``."""
    import base64

    from reelsmith.engine.context import JobContext
    from reelsmith.jobs.handler import run_handler_input

    def b64(path: Path) -> str:
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()

    res = run_handler_input({"workflow": "face_swap", "video_base64": b64(photos["astronaut"]),
                             "inputs": {"source": [b64(photos["camera"])]},
                             "params": {"identity_model": "none"}}, JobContext())
    assert "error" not in res, res
    assert res["metadata"]["faces"] == 1
    out = next(v for k, v in res.items() if k != "metadata")
    assert isinstance(out, str) and out.startswith("data:image/png;base64,")
    bad = run_handler_input({"workflow": "face_swap", "video_base64": b64(photos["astronaut"]),
                             "inputs": {"source": [b64(photos["coffee"])]}}, JobContext())
    assert "has no usable face" in bad["error"]
