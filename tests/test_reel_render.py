"""The reel render on the engine: its source, stages, progress and cancellation, and a
rendering checked against one composed by hand from the primitives."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from highlights_media import make_stitched  # noqa: E402

from mediagen import psnr  # noqa: E402
from reelsmith.engine.context import JobContext  # noqa: E402
from reelsmith.errors import Cancelled  # noqa: E402
from reelsmith.media.frame import Frame  # noqa: E402
from reelsmith.media.probe import probe  # noqa: E402
from reelsmith.media.reader import VideoReader  # noqa: E402
from reelsmith.media.segments import SegmentSource  # noqa: E402
from reelsmith.media.subtitles import Cue  # noqa: E402
from reelsmith.ops.crop_geometry import cover_box, vertical_size, window_offset  # noqa: E402
from reelsmith.ops.reframe import Reframer  # noqa: E402
from reelsmith.ops.subtitles import SubtitleBurner  # noqa: E402
from reelsmith.workflows.reel_render import render_reel  # noqa: E402
from reelsmith.workflows.reel_stages import CrossfadeStage  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("reel")
    return make_stitched(d / "clip.mp4", [("motion", 1.6), ("action", 1.6)], cuts=True)


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _gray(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32).mean(axis=2)


def test_crop_geometry():
    assert vertical_size(1920, 1080, "center") == (608, 1080)
    assert vertical_size(1920, 1080, "off") == (1920, 1080)
    assert window_offset(10.0, 100, 1000) == 0  # clamped at the left edge
    assert window_offset(990.0, 100, 1000) == 900  # and at the right
    assert window_offset(500.0, 100, 1000) == 450
    assert cover_box(200, 100, 50, 100) == (75, 0, 50, 100)


def test_segment_source_fills_a_constant_grid(clip):
    info = probe(clip)
    src = SegmentSource(clip, info, [(0.2, 0.6), (2.0, 2.4)])
    frames = list(src)
    assert src.slots == src.counts == [10, 10]
    assert [f.index for f in frames] == list(range(20))
    assert [f.extra["slot"] for f in frames[8:12]] == [8, 9, 0, 1]
    assert frames[10].extra["segment"] == 1 and frames[10].time == pytest.approx(10 / 25)
    source = {round(f.time, 2): f.image for f in VideoReader(clip, info=info)}
    assert np.array_equal(frames[0].image, source[0.2])
    assert np.array_equal(frames[10].image, source[2.0])


def test_crossfade_stage_blends_and_renumbers():
    stage = CrossfadeStage(2, 25.0)
    out: list[Frame] = []
    for seg, value in enumerate((0, 210)):
        for slot in range(4):
            img = np.full((2, 2, 3), value, np.uint8)
            out += stage.process(Frame(img, 0.0, 0, extra={"segment": seg, "slot": slot}))
    out += stage.flush()
    assert [f.index for f in out] == list(range(6))
    assert [f.time for f in out] == pytest.approx([n / 25 for n in range(6)])
    assert [int(f.image[0, 0, 0]) for f in out] == [0, 0, 70, 140, 210, 210]


def test_progress_and_cancellation_go_through_the_context(clip, tmp_path):
    events = []
    ctx = JobContext(on_progress=events.append, min_interval_s=0.0)
    ctx.stage("render", 0.5, 1.0)
    res = render_reel(clip, [(0.0, 1.0), (2.0, 3.0)], tmp_path / "p.mp4", ctx=ctx)
    assert res.frames == 50
    fractions = [e.progress for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert events[-1].done == 50 and events[-1].total == 50

    out_dir = tmp_path / "cancel"
    out_dir.mkdir()
    ctx = JobContext(min_interval_s=0.0)
    ctx.subscribe(lambda e: ctx.cancel() if (e.done or 0) >= 5 else None)
    with pytest.raises(Cancelled):
        render_reel(clip, [(0.0, 1.0), (2.0, 3.0)], out_dir / "c.mp4", ctx=ctx, vertical="follow")
    assert list(out_dir.iterdir()) == []  # nothing half-written stays


def test_reel_matches_one_composed_from_the_primitives(clip, tmp_path):
    """Centre crop and a subtitle, two clips, no dissolve: the rendered reel is the source
    frames at the slot times, reframed and subtitled, up to encoding loss."""
    info = probe(clip)
    segs = [(0.4, 1.2), (2.0, 2.8)]
    cues = [Cue(0.2, 1.0, "what a goal")]
    res = render_reel(clip, segs, tmp_path / "r.mp4", vertical="center", cues=cues, info=info)
    got = _frames(res.path)

    source = {round(f.time, 2): f.image for f in VideoReader(clip, info=info)}
    reframer = Reframer(*info.display_size, "center")
    burner = SubtitleBurner(cues, *reframer.out)
    want = []
    for s, e in segs:
        for j in range(round((e - s) * 25)):
            img = reframer.apply(source[round(s + j / 25, 2)])
            want.append(burner.apply(img, len(want) / 25))
    assert len(got) == len(want) == res.frames == 40
    # Luma-like comparison: 4:2:0 chroma at this tiny size costs more than the check is about.
    got_y, want_y = [_gray(g) for g in got], [_gray(w) for w in want]
    assert min(psnr(g, w) for g, w in zip(got_y, want_y, strict=True)) > 28
    assert psnr(got_y[10], want_y[11]) < 24  # the neighbouring frame does not match: exact slots
