"""The upscale / interpolate workflows end to end on synthetic media: real properties only."""

from __future__ import annotations

import threading
from fractions import Fraction

import av
import numpy as np
import pytest

import reelsmith
from mediagen import make_video, pattern, psnr
from reelsmith.errors import Cancelled, InputError
from reelsmith.media.probe import probe
from reelsmith.media.reader import VideoReader


def frame_times(path) -> list[float]:
    return [f.time for f in VideoReader(path)]


def test_interpolate_doubles_frames_keeps_audio_and_duration(clip, tmp_path):
    out = tmp_path / "x2.mp4"
    r = reelsmith.run("interpolate", clip, output=out, multiplier=2)
    src, dst = probe(clip), probe(out)
    assert dst.frame_count == 2 * src.frame_count
    assert dst.fps == src.fps * 2
    assert abs(dst.duration - src.duration) <= 1 / float(src.fps)
    assert dst.has_audio and r.metadata["audio"] == "copy"
    assert abs(dst.audio_duration - src.audio_duration) < 0.05
    assert r.metadata["model"] == "builtin-flow" or "flow" in r.metadata["model"]


def _pan_texture(width: int, height: int, extra: int = 200) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(7)
    tex = rng.integers(0, 256, size=(height, width + extra, 3), dtype=np.uint8)
    return cv2.GaussianBlur(tex, (0, 0), 2.0) * 3 - 200


def test_interpolated_frames_beat_frame_averaging(tmp_path):
    """A panning camera: the true middle frame is the texture shifted by half a step."""
    w, h, step = 192, 112, 6
    tex = np.clip(_pan_texture(w, h).astype(np.int32), 0, 255).astype(np.uint8)

    def view(x: int) -> np.ndarray:
        return np.ascontiguousarray(tex[:, x:x + w])

    src = tmp_path / "pan.mp4"
    with av.open(str(src), "w") as out:
        vs = out.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv444p"
        vs.options = {"crf": "0"}
        for i in range(10):
            vf = av.VideoFrame.from_ndarray(view(i * step), format="rgb24")
            vf.pts = i
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    out_path = tmp_path / "mid.mp4"
    reelsmith.run("interpolate", src, output=out_path, multiplier=2, crf=0)
    ins = [f.image for f in VideoReader(src)]
    outs = list(VideoReader(out_path))
    ours, avg = [], []
    for k in range(1, 8):
        mid = outs[2 * k + 1]
        assert mid.time == pytest.approx((k + 0.5) / 10, abs=1e-3)
        truth = view(k * step + step // 2)
        m = 8  # ignore the border where new content enters the frame
        ours.append(psnr(mid.image[m:-m, m:-m], truth[m:-m, m:-m]))
        blend = ((ins[k].astype(np.float32) + ins[k + 1]) / 2).round().astype(np.uint8)
        avg.append(psnr(blend[m:-m, m:-m], truth[m:-m, m:-m]))

    assert np.mean(ours) > np.mean(avg) + 6.0, (np.mean(ours), np.mean(avg))


def test_target_fps_gives_constant_rate(clip, tmp_path):
    out = tmp_path / "60.mp4"
    reelsmith.run("interpolate", clip, output=out, fps=60)
    times = frame_times(out)
    assert len(times) == 120
    assert np.allclose(np.diff(times), 1 / 60, atol=1e-3)
    assert probe(out).fps == 60


def test_variable_frame_rate_stays_in_sync(tmp_path):
    times_in = [0.0, 0.04, 0.08, 0.2, 0.24, 0.4, 0.44, 0.48, 0.6, 0.7]
    src = make_video(tmp_path / "vfr.mp4", vfr_times=times_in, audio_seconds=0.8)
    out = tmp_path / "vfr2.mp4"
    reelsmith.run("interpolate", src, output=out, multiplier=2)
    got = frame_times(out)
    want = []
    for a, b in zip(times_in, times_in[1:], strict=False):
        want += [a, (a + b) / 2]
    assert np.allclose(got[: len(want)], want, atol=2e-3)
    assert probe(out).has_audio


def test_odd_frame_rate_is_kept_exactly(tmp_path):
    src = make_video(tmp_path / "odd.mp4", fps=Fraction(45000, 1499), seconds=0.7)
    out = tmp_path / "odd2.mp4"
    reelsmith.run("upscale_and_interpolation", src, output=out, scale=2, multiplier=2)
    info = probe(out)
    assert info.fps == Fraction(90000, 1499)
    assert info.frame_count == 2 * probe(src).frame_count


def test_scene_cut_is_never_morphed(clip_with_cut, tmp_path):
    out = tmp_path / "cut2.mp4"
    r = reelsmith.run("interpolate", clip_with_cut, output=out, multiplier=2, crf=6)
    assert r.metadata["scene_cuts"] >= 1
    for f in VideoReader(out):
        if 0.9 < f.time < 1.1:
            before = pattern(160, 96, f.time, scene=0)
            after = pattern(160, 96, f.time, scene=1)
            near_before = pattern(160, 96, 0.96, scene=0)
            best = max(psnr(f.image, x) for x in (before, after, near_before))
            assert best > 24, (f.time, best)  # a cross-fade of two scenes scores far lower


def test_odd_dimensions(tmp_path):
    src = make_video(tmp_path / "odd.mp4", width=175, height=143, pix_fmt="yuv444p", seconds=0.5)
    out = tmp_path / "odd_up.mp4"
    r = reelsmith.run("interpolate", src, output=out)
    info = probe(out)
    assert abs(info.width - 175) <= 1 and abs(info.height - 143) <= 1
    assert r.metadata["output"]["frames"] == 2 * probe(src).frame_count


def test_ten_bit_input_keeps_ten_bit(tmp_path):
    src = make_video(tmp_path / "10.mp4", pix_fmt="yuv420p10le", seconds=0.5)
    out = tmp_path / "10up.mp4"
    reelsmith.run("upscale", src, output=out, scale=2)
    info = probe(out)
    assert info.bit_depth == 10
    a = next(iter(VideoReader(src))).image
    b = next(iter(VideoReader(out))).image
    import cv2

    assert psnr(cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA), a) > 28


def test_rotated_phone_video_comes_out_upright(tmp_path):
    src = make_video(tmp_path / "phone.mp4", width=160, height=96, rotation=90, seconds=0.4)
    out = tmp_path / "phone_up.mp4"
    reelsmith.run("upscale", src, output=out, scale=2)
    info = probe(out)
    assert (info.width, info.height) == (192, 320)
    assert info.rotation == 0


def test_cancel_leaves_no_output(tmp_path):
    src = make_video(tmp_path / "long.mp4", seconds=4, audio=False)
    out = tmp_path / "never.mp4"
    ev = threading.Event()

    def progress(e):
        if e.progress > 0.1:
            ev.set()

    with pytest.raises(Cancelled):
        reelsmith.run("interpolate", src, output=out, progress=progress, cancel_event=ev)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]


@pytest.mark.parametrize(
    ("params", "needle"),
    [({"scale": 2, "height": 480}, "either scale or height"),
     ({"multiplier": 2, "fps": 60}, "either multiplier or fps"),
     ({"scale": 0}, "scale"),
     ({"frobnicate": True}, "frobnicate")],
)
def test_bad_params(clip, tmp_path, params, needle):
    with pytest.raises(InputError, match=needle):
        reelsmith.run("upscale_and_interpolation", clip, output=tmp_path / "o.mp4", **params)


def test_interpolate_refuses_an_image(tmp_path):
    from mediagen import make_image

    img = make_image(tmp_path / "a.png")
    with pytest.raises(InputError, match="video"):
        reelsmith.run("interpolate", img, output=tmp_path / "o.mp4")


def test_h265_and_vp9_outputs(clip, tmp_path):
    reelsmith.run("upscale", clip, output=tmp_path / "a.mp4", codec="h265", preset="ultrafast")
    assert probe(tmp_path / "a.mp4").codec == "hevc"
    reelsmith.run("upscale", clip, output=tmp_path / "b.webm", codec="vp9")
    info = probe(tmp_path / "b.webm")
    assert info.codec == "vp9" and info.has_audio
    with av.open(str(tmp_path / "b.webm")) as c:
        assert c.streams.audio[0].codec_context.name in ("opus", "libopus")
