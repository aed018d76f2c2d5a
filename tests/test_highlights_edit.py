"""workflows/reel_render.py: cutting and joining segments cleanly."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from highlights_media import make_stitched  # noqa: E402

from reelsmith.errors import InputError  # noqa: E402
from reelsmith.media.probe import probe  # noqa: E402
from reelsmith.media.subtitles import Cue  # noqa: E402
from reelsmith.ops.crop_geometry import vertical_size  # noqa: E402
from reelsmith.workflows.reel_render import render_reel as render  # noqa: E402


@pytest.fixture(scope="module")
def tone_src(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("edit")
    return make_stitched(d / "tone.mp4", [("tone", 1.6), ("tone", 1.6)], cuts=True)


def _decode(path: Path) -> tuple[list[np.ndarray], np.ndarray | None, int]:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return frames, None, 0
        rate = c.streams.audio[0].codec_context.sample_rate
        chunks = [f.to_ndarray()[0] for f in c.decode(audio=0)]
    return frames, np.concatenate(chunks), rate


def test_cut_and_join_keeps_sync_and_has_no_pop(tone_src, tmp_path):
    out = tmp_path / "cut.mp4"
    res = render(tone_src, [(0.2, 1.0), (2.0, 2.8)], out)
    info = probe(out)
    frames, audio, rate = _decode(out)
    assert len(frames) == res.frames == 40
    assert abs(info.duration - 1.6) < 0.05
    assert info.has_audio and abs(info.audio_duration - info.duration) < 0.06
    # Audio fades to silence at the join (no click): the 440 Hz tone dips near 0.8 s.
    j = int(0.8 * rate)
    around = np.abs(audio[j - 200:j + 200]).max()
    steady = np.abs(audio[int(0.4 * rate):int(0.5 * rate)]).max()
    assert steady > 0.2 and around < 0.6 * steady
    assert [round(s["source_start"], 2) for s in res.segments] == [0.2, 2.0]
    assert not list(tmp_path.glob(".*"))  # no temporary leftovers


def test_crossfade_overlaps_frames(tone_src, tmp_path):
    res = render(tone_src, [(0.0, 1.0), (2.0, 3.0)], tmp_path / "xf.mp4", crossfade=0.2)
    frames, audio, rate = _decode(res.path)
    assert len(frames) == res.frames == 50 - 5
    assert abs(len(audio) / rate - res.duration) < 0.06
    # A dissolve frame lies between the last frame of clip 1 and the first of clip 2.
    mid = frames[22].astype(float)
    a, b = frames[19].astype(float), frames[26].astype(float)
    assert np.abs(mid - a).mean() > 3 and np.abs(mid - b).mean() > 3


@pytest.mark.parametrize("mode", ["center", "blur-pad", "follow"])
def test_vertical_modes(tone_src, tmp_path, mode):
    res = render(tone_src, [(0.0, 0.8)], tmp_path / f"v_{mode}.mp4", vertical=mode)
    info = probe(res.path)
    assert info.height > info.width
    assert abs(info.width / info.height - 9 / 16) < 0.06
    assert (info.width, info.height) == vertical_size(160, 96, mode)


def test_follow_crop_tracks_motion(tmp_path):
    src = make_stitched(tmp_path / "m.mp4", [("motion", 1.2)], audio=False)
    res = render(src, [(0.0, 1.2)], tmp_path / "f.mp4", vertical="follow")
    frames, audio, _ = _decode(res.path)
    assert audio is None and not res.has_audio
    yellow = [((f[..., 0] > 200) & (f[..., 1] > 200) & (f[..., 2] < 120)).mean() for f in frames]
    assert np.mean(yellow) > 0.05  # the moving square stays mostly in view


def test_portrait_input_vertical_is_cropped_to_9_16(tmp_path):
    src = make_stitched(tmp_path / "p.mp4", [("tone", 1.0)], width=96, height=160)
    res = render(src, [(0.0, 1.0)], tmp_path / "p_out.mp4", vertical="center")
    assert (res.width, res.height) == (90, 160)


def test_burned_subtitles_change_the_bottom(tone_src, tmp_path):
    plain = render(tone_src, [(0.0, 1.0)], tmp_path / "plain.mp4")
    subbed = render(tone_src, [(0.0, 1.0)], tmp_path / "sub.mp4", cues=[Cue(0.0, 0.5, "HELLO")])
    fa, _, _ = _decode(plain.path)
    fb, _, _ = _decode(subbed.path)
    bottom = slice(int(96 * 0.5), 96)
    assert np.abs(fa[3][bottom].astype(int) - fb[3][bottom]).mean() > 2
    assert np.abs(fa[20][bottom].astype(int) - fb[20][bottom]).mean() < 1.5


def test_audio_shorter_than_video_is_padded_with_silence(tmp_path):
    src = make_stitched(tmp_path / "short_a.mp4", [("tone", 2.0)], audio_seconds=1.0)
    res = render(src, [(0.2, 0.8), (1.2, 1.8)], tmp_path / "sa.mp4")
    _, audio, rate = _decode(res.path)
    assert abs(len(audio) / rate - res.duration) < 0.06
    assert np.abs(audio[int(0.8 * rate):int(1.1 * rate)]).max() < 0.02


def test_bad_segments_and_output(tone_src, tmp_path):
    with pytest.raises(InputError):
        render(tone_src, [(50.0, 60.0)], tmp_path / "x.mp4")
    with pytest.raises(InputError):
        render(tone_src, [(0.0, 1.0)], tmp_path / "x.gif")


def test_variable_frame_rate_source_stays_on_a_constant_grid(tmp_path):
    from mediagen import make_video

    times, t = [], 0.0
    while t < 3.0:
        times.append(round(t, 4))
        t += 0.02 if len(times) % 2 else 0.06  # 25 fps on average, very uneven
    src = make_video(tmp_path / "vfr.mp4", vfr_times=times, seconds=3.0)
    info = probe(src)
    res = render(src, [(0.5, 1.5), (2.0, 2.6)], tmp_path / "vfr_out.mp4", info=info)
    out = probe(res.path)
    assert res.frames == round(1.0 * float(info.fps)) + round(0.6 * float(info.fps))
    assert abs(out.duration - res.duration) < 0.06
    assert abs(out.audio_duration - out.duration) < 0.06


def test_rotated_phone_video_goes_vertical(tmp_path):
    from mediagen import make_video

    src = make_video(tmp_path / "rot.mp4", seconds=1.0, rotation=90)
    assert probe(src).display_size == (96, 160)
    res = render(src, [(0.0, 1.0)], tmp_path / "rot_out.mp4", vertical="center")
    assert (res.width, res.height) == (90, 160)


def test_seeking_far_segments_gives_the_right_frames(tmp_path):
    from mediagen import psnr

    src = make_stitched(tmp_path / "long.mp4", [("motion", 3.0), ("action", 6.0)], gop=12)
    res = render(src, [(0.4, 0.8), (7.2, 7.6)], tmp_path / "seek.mp4")
    with av.open(str(src)) as c:
        ref = {round(float(f.time), 2): f.to_ndarray(format="rgb24") for f in c.decode(video=0)}
    frames, _, _ = _decode(res.path)
    assert len(frames) == 20
    for k, t in [(0, 0.4), (9, 0.76), (10, 7.2), (19, 7.56)]:
        assert psnr(frames[k], ref[t]) > 30, (k, t)
