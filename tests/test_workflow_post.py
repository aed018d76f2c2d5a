"""Post steps: a workflow's output flows into more stages of the same pipeline.

Real runs on synthetic media (mediagen clips carry a tone): sizes, frame counts, rates,
audio and duration are read back from the files; "one encode" is checked by the pipeline's
own stage timings (every stage ran in the one pass) and by what is left on disk (the output
and nothing else: no intermediate file in the output folder or the temp dir).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field

import reelsmith
from mediagen import make_image, psnr
from reelsmith.cli import build_parser
from reelsmith.cli.params_args import params_from_args
from reelsmith.errors import InputError
from reelsmith.media.frame import Frame
from reelsmith.media.images import read_image
from reelsmith.media.probe import probe
from reelsmith.media.reader import VideoReader
from reelsmith.workflows import get_workflow, post
from reelsmith.workflows.backends import backend_metadata_problems
from reelsmith.workflows.post import PostSpec, PostStep, Stream, register_post_step


@pytest.fixture
def scratch_tmp(tmp_path, monkeypatch) -> Path:
    """The process temp dir for this test, so a left-over intermediate file would show."""
    d = tmp_path / "systmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def frames(path: Path) -> list[np.ndarray]:
    return [f.image for f in VideoReader(path)]


def test_interpolate_then_upscale_in_one_pass(clip, tmp_path, scratch_tmp):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "smooth_big.mp4"
    r = reelsmith.run("interpolate", clip, output=out, multiplier=2, interpolation_model="builtin",
                      post=["upscale:2,model=builtin"])
    src, dst = probe(clip), probe(out)
    assert (dst.width, dst.height) == (2 * src.width, 2 * src.height)
    assert dst.frame_count == 2 * src.frame_count and dst.fps == 2 * src.fps
    assert abs(dst.duration - src.duration) <= 1 / float(src.fps)
    assert dst.has_audio and r.metadata["audio"] == "copy"
    assert abs(dst.audio_duration - src.audio_duration) < 0.05
    # One decode, both stages in the same pipeline, one output and nothing else on disk.
    meta = r.metadata
    assert meta["frames_in"] == src.frame_count and meta["frames_out"] == dst.frame_count
    assert set(meta["stage_seconds"]) == {"interpolate", "post.upscale"}
    assert list(out_dir.iterdir()) == [out] and list(scratch_tmp.iterdir()) == []
    assert backend_metadata_problems(meta) == []
    assert list(meta["backends"]) == ["interpolate", "post.upscale"]
    assert meta["backends"]["post.upscale"]["backend"] == "opencv"
    [step] = meta["post"]
    assert step["step"] == "upscale:2,model=builtin" and step["role"] == "post.upscale"
    assert (step["width"], step["height"]) == (dst.width, dst.height)
    assert meta["output"]["width"] == dst.width and meta["interpolated_frames"] > 0


def test_upscale_then_interpolate_to_60fps(clip, tmp_path):
    out = tmp_path / "up60.mp4"
    r = reelsmith.run("upscale", clip, output=out, scale=2, model="builtin",
                      post=["interpolate:60fps,model=builtin"])
    src, dst = probe(clip), probe(out)
    assert (dst.width, dst.height) == (2 * src.width, 2 * src.height)
    assert dst.fps == 60 and not dst.variable_frame_rate
    assert dst.frame_count == round(src.duration * 60)
    times = [f.time for f in VideoReader(out)]
    assert np.allclose(np.diff(times), 1 / 60, atol=1e-3)  # constant rate
    assert abs(dst.duration - src.duration) <= 1 / float(src.fps)
    assert dst.has_audio and abs(dst.audio_duration - src.audio_duration) < 0.05
    [step] = r.metadata["post"]
    assert step["fps"] == 60 and step["interpolated_frames"] > 0
    assert set(r.metadata["stage_seconds"]) == {"upscale", "post.interpolate"}


def test_upscale_and_interpolation_is_interpolate_plus_the_upscale_step(clip, tmp_path):
    a = reelsmith.run("upscale_and_interpolation", clip, output=tmp_path / "a.mp4", scale=2,
                      model="builtin", interpolation_model="builtin")
    b = reelsmith.run("interpolate", clip, output=tmp_path / "b.mp4",
                      interpolation_model="builtin", post=["upscale:2,model=builtin"])
    fa, fb = frames(a.output), frames(b.output)
    assert len(fa) == len(fb) == 2 * probe(clip).frame_count
    assert min(psnr(x, y) for x, y in zip(fa, fb, strict=True)) > 45
    # Its own metadata keeps its historic roles; no "post" entry without post steps.
    assert list(a.metadata["backends"]) == ["interpolate", "upscale"]
    assert "upscaler" in a.metadata and "post" not in a.metadata


def test_image_upscale_with_post_upscale_is_x4(tmp_path):
    img = make_image(tmp_path / "in.png", width=64, height=48)
    r = reelsmith.run("upscale", img, output=tmp_path / "x4.png", scale=2, model="builtin",
                      post=["upscale:x2,model=builtin"])
    out, _ = read_image(r.output)
    assert out.shape[:2] == (192, 256)
    assert r.metadata["output"]["width"] == 256
    assert list(r.metadata["backends"]) == ["upscale", "post.upscale"]
    # The same step twice gets two roles; the size follows the last step.
    r2 = reelsmith.run("upscale", img, output=tmp_path / "h.png", scale=2, model="builtin",
                       post=["upscale:2,model=builtin", "upscale:h600,model=builtin"])
    assert read_image(r2.output)[0].shape[:2] == (600, 800)
    assert [s["role"] for s in r2.metadata["post"]] == ["post.upscale", "post.upscale.2"]


def test_image_with_a_video_only_step_is_an_input_error(tmp_path):
    img = make_image(tmp_path / "in.png")
    with pytest.raises(InputError, match="interpolate:60fps.*video"):
        reelsmith.run("upscale", img, output=tmp_path / "o.png", post=["interpolate:60fps"])
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(("step", "words"), [
    ("sharpen_all", ["sharpen_all", "interpolate", "upscale"]),  # unknown: lists valid steps
    ("upscal:2", ["upscal:2", "did you mean 'upscale'"]),
    ("upscale:big", ["upscale:big", "big"]),
    ("upscale:20", ["upscale:20", "scale"]),
    ("upscale:2,colour=red", ["colour", "sharpen"]),
    ("interpolate:fast", ["interpolate:fast", "frame rate"]),
    ("interpolate:60fps,quality=ultra", ["quality"]),
    ("upscale:2,model=", ["model=", "key=value"]),
    ("upscale:2,mdoel", ["mdoel", "valid post steps"]),  # a bare word after a comma is a step
])
def test_bad_steps_are_input_errors_naming_them(clip, tmp_path, step, words):
    out = tmp_path / "o.mp4"
    with pytest.raises(InputError) as exc:
        reelsmith.run("interpolate", clip, output=out, post=["upscale:2", step])
    message = str(exc.value).lower()
    assert all(w.lower() in message for w in words), message
    assert list(tmp_path.iterdir()) == []


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reelsmith.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_cli_post_flags(clip, tmp_path):
    def parse(*flags: str) -> dict:
        args = build_parser().parse_args(["upscale", "in.mp4", *flags])
        return params_from_args(args, args.param_specs)

    assert parse("--post", "face_restore", "--post", "upscale:2") == \
        {"post": ["face_restore", "upscale:2"]}
    assert parse("--post", '["interpolate:2x", "upscale:2"]') == \
        {"post": ["interpolate:2x", "upscale:2"]}
    given = parse("--post", "upscale:2,model=builtin,interpolate:60fps")
    assert get_workflow("upscale").parse_params(given).post == \
        ["upscale:2,model=builtin", "interpolate:60fps"]

    out = tmp_path / "o.mp4"
    proc = _cli("upscale", str(clip), "-o", str(out), "--model", "builtin",
                "--post", "upscale:2,model=builtin")
    assert proc.returncode == 0, proc.stderr
    assert probe(out).width == 4 * probe(clip).width

    proc = _cli("upscale", str(clip), "-o", str(tmp_path / "bad.mp4"), "--post", "upscale:2",
                "--post", "blur:3")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Unknown post step 'blur:3'" in proc.stderr and "upscale" in proc.stderr
    assert not (tmp_path / "bad.mp4").exists()


# -- a step registered from outside the module, as a workflow module would ---------------

class InvertOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: float = Field(1.0, ge=0, le=1)


def _parse_invert(spec: PostSpec) -> InvertOptions:
    values = dict(spec.options)
    if spec.value is not None:
        values["amount"] = spec.value
    return InvertOptions.model_validate(values)


def _invert(image: np.ndarray, amount: float) -> np.ndarray:
    inv = 255.0 - image.astype(np.float32)
    return np.clip(image * (1 - amount) + inv * amount + 0.5, 0, 255).astype(np.uint8)


class InvertStage:
    name = "invert"

    def __init__(self, amount: float) -> None:
        self.amount = amount
        self.frames = 0

    def process(self, frame: Frame) -> list[Frame]:
        frame.image = _invert(frame.image, self.amount)
        self.frames += 1
        return [frame]

    def flush(self) -> list[Frame]:
        return []


def _build_invert(options: InvertOptions, stream: Stream) -> PostStep:
    stage = InvertStage(options.amount)
    return PostStep(stream, {"backend": "numpy", "name": "test-invert"}, stage=stage,
                    image=lambda img: _invert(img, options.amount),
                    stats=lambda: {"inverted_frames": stage.frames})


@pytest.fixture
def invert_step(monkeypatch):
    monkeypatch.setattr(post, "_STEPS", dict(post._STEPS))  # the registration ends with the test
    register_post_step("invert", _build_invert, parse=_parse_invert,
                       summary="Test step: invert the colours.")


def test_a_step_registered_from_outside(invert_step, clip, tmp_path):
    assert "invert" in post.post_steps()
    plain = reelsmith.run("upscale", clip, output=tmp_path / "plain.mp4", model="builtin")
    inv = reelsmith.run("upscale", clip, output=tmp_path / "inv.mp4", model="builtin",
                        post=["invert"])
    pairs = list(zip(frames(plain.output), frames(inv.output), strict=True))
    assert min(psnr(255 - a, b) for a, b in pairs) > 35  # inverted
    assert max(psnr(a, b) for a, b in pairs) < 15
    assert inv.metadata["backends"]["post.invert"] == \
        {"backend": "numpy", "model": "test-invert", "provider": None}
    assert inv.metadata["backend"] == "opencv+numpy"
    assert inv.metadata["post"][0]["inverted_frames"] == probe(clip).frame_count
    img = make_image(tmp_path / "in.png")
    half = reelsmith.run("upscale", img, output=tmp_path / "half.png", model="builtin",
                         post=["invert:0.5"])
    assert abs(float(read_image(half.output)[0][..., :3].mean()) - 127.5) < 2
    with pytest.raises(InputError, match=r"invert:2.*amount"):
        get_workflow("upscale").parse_params({"post": ["invert:2"]})


def test_registration_checks_names():
    with pytest.raises(ValueError, match="lower-case"):
        register_post_step("Face Restore", _build_invert)
    with pytest.raises(ValueError, match="kinds"):
        register_post_step("audio_only", _build_invert, kinds=("audio",))


@pytest.mark.parametrize("name", ["upscale", "interpolate", "upscale_and_interpolation"])
def test_schema_shows_post(name):
    wf = get_workflow(name)
    prop = wf.describe()["params_schema"]["properties"]["post"]
    assert prop["type"] == "array" and prop["items"] == {"type": "string"}
    assert prop["group"] == "Post steps" and "upscale:2" in prop["description"]
    assert wf.Params().post == []
    assert wf.parse_params({"post": "upscale:2"}).post == ["upscale:2"]


def test_cli_list_flag_rejects_a_bad_json_array():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["upscale", "in.mp4", "--post", "[1, 2]"])


def test_highlights_reel_with_post_steps(tmp_path):
    from mediagen import make_video

    src = make_video(tmp_path / "long.mp4", seconds=3.0)
    quick = {"target_duration": 1.5, "min_clip": 0.5, "max_clip": 1.0, "method": "visual"}
    plain = reelsmith.run("highlights", src, output=tmp_path / "plain.mp4", **quick)
    r = reelsmith.run("highlights", src, output=tmp_path / "post.mp4", **quick,
                      post=["upscale:2,model=builtin", "interpolate:2x,model=builtin"])
    a, b = probe(plain.output), probe(r.output)
    assert (b.width, b.height) == (2 * a.width, 2 * a.height)
    assert b.fps == 2 * a.fps and b.frame_count == 2 * a.frame_count
    assert abs(b.duration - a.duration) <= 1 / float(a.fps)
    assert b.has_audio and abs(b.audio_duration - a.audio_duration) < 0.05
    meta = r.metadata
    assert (meta["output_width"], meta["fps"]) == (b.width, float(b.fps))
    assert meta["output_duration"] == pytest.approx(plain.metadata["output_duration"], abs=0.05)
    assert [s["role"] for s in meta["post"]] == ["post.upscale", "post.interpolate"]
    assert {"post.upscale", "post.interpolate"} <= set(meta["backends"])
    assert backend_metadata_problems(meta) == []
