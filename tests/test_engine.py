"""The streaming pipeline and the interpolation timing stage."""

from __future__ import annotations

import threading
from fractions import Fraction

import numpy as np
import pytest

from reelsmith.engine.context import JobContext
from reelsmith.engine.pipeline import run_pipeline
from reelsmith.errors import Cancelled, ProcessingError, TimedOut
from reelsmith.media.frame import Frame
from reelsmith.workflows.stages import InterpolateStage


def frames(n: int, fps: float = 25.0, size: int = 4):
    for i in range(n):
        yield Frame(np.full((size, size, 3), i % 256, np.uint8), i / fps, i)


class Double:
    name = "double"

    def process(self, f: Frame) -> list[Frame]:
        return [f, Frame(f.image, f.time + 0.001, f.index)]

    def flush(self) -> list[Frame]:
        return [Frame(np.zeros((4, 4, 3), np.uint8), 99.0, -1)]


class Blend:
    """A trivial interpolator with the real call shape (for timing tests)."""

    name = "blend"

    def __init__(self) -> None:
        self.prepared = 0

    def prepare(self, a, b):
        self.prepared += 1
        return (a.astype(np.float32), b.astype(np.float32))

    def interpolate(self, state, t):
        a, b = state
        return ((1 - t) * a + t * b).round().astype(np.uint8)


def test_pipeline_runs_in_order_and_flushes():
    out: list[Frame] = []
    stats = run_pipeline(frames(30), [Double()], out.append, JobContext(), total_frames=30)
    assert stats.frames_in == 30
    assert len(out) == 61
    assert [f.time for f in out[:4]] == [0.0, 0.001, 0.04, 0.041]
    assert out[-1].time == 99.0


def test_pipeline_progress_reaches_one():
    events = []
    ctx = JobContext(on_progress=events.append, min_interval_s=0)
    run_pipeline(frames(10), [], lambda f: None, ctx, total_frames=10)
    assert events[-1].progress == pytest.approx(1.0)
    assert all(0 <= e.progress <= 1 for e in events)


def test_pipeline_memory_is_bounded():
    """The decoder may not run ahead of a slow sink by more than the queues hold."""
    produced = 0
    consumed = 0
    max_ahead = 0

    def source():
        nonlocal produced
        for f in frames(200):
            produced += 1
            yield f

    def sink(f):
        nonlocal consumed, max_ahead
        consumed += 1
        max_ahead = max(max_ahead, produced - consumed)
        threading.Event().wait(0.001)

    run_pipeline(source(), [], sink, JobContext(), queue_size=4)
    assert consumed == 200
    assert max_ahead <= 4 + 4 + 3


def test_pipeline_propagates_sink_error_as_processing_error():
    def sink(f):
        if f.index == 5:
            raise RuntimeError("disk full")

    with pytest.raises(ProcessingError, match="disk full"):
        run_pipeline(frames(50), [], sink, JobContext())


def test_pipeline_cancel_stops_quickly():
    ctx = JobContext()
    seen = []

    def sink(f):
        seen.append(f)
        if len(seen) == 10:
            ctx.cancel()

    with pytest.raises(Cancelled):
        run_pipeline(frames(10_000), [], sink, ctx)
    assert len(seen) < 100


def test_pipeline_deadline():
    ctx = JobContext(timeout_s=0.05)

    def slow(f):
        threading.Event().wait(0.02)

    with pytest.raises(TimedOut):
        run_pipeline(frames(1000), [], slow, ctx)


def run_stage(stage, src):
    out = []
    for f in src:
        out.extend(stage.process(f))
    out.extend(stage.flush())
    return out


def test_multiplier_keeps_first_frame_and_duration():
    interp = Blend()
    stage = InterpolateStage(interp, multiplier=2, duration=10 / 25, nominal_interval=0.04)
    out = run_stage(stage, frames(10))
    assert len(out) == 20
    times = [f.time for f in out]
    assert times == pytest.approx([i * 0.02 for i in range(20)])
    # The first frame is the first input, untouched (the original worker dropped it).
    assert out[0].source == "decoded" and int(out[0].image[0, 0, 0]) == 0
    assert int(out[1].image[0, 0, 0]) in (0, 1) and out[1].source == "interpolated"
    assert int(out[2].image[0, 0, 0]) == 1
    assert interp.prepared == 9


def test_multiplier_three_on_variable_rate():
    vfr = [0.0, 0.03, 0.1, 0.13]
    src = [Frame(np.full((2, 2, 3), i * 30, np.uint8), t, i) for i, t in enumerate(vfr)]
    stage = InterpolateStage(Blend(), multiplier=3, duration=0.16, nominal_interval=0.03)
    out = run_stage(stage, src)
    assert len(out) == 12
    assert [f.time for f in out[:4]] == pytest.approx([0.0, 0.01, 0.02, 0.03])
    assert out[4].time == pytest.approx(0.03 + 0.07 / 3)
    assert all(b.time > a.time for a, b in zip(out, out[1:], strict=False))


def test_target_fps_is_constant_rate_and_covers_duration():
    stage = InterpolateStage(Blend(), fps=Fraction(60), duration=1.0, nominal_interval=0.04)
    out = run_stage(stage, frames(25))
    assert len(out) == 60
    assert [f.time for f in out] == pytest.approx([k / 60 for k in range(60)])
    assert out[0].source == "decoded"


def test_cut_is_held_not_morphed_and_duplicates_repeat():
    src = [Frame(np.full((2, 2, 3), v, np.uint8), i * 0.04, i) for i, v in enumerate([10, 10, 200, 210])]
    interp = Blend()
    stage = InterpolateStage(
        interp, multiplier=2, duration=0.16, nominal_interval=0.04,
        is_cut=lambda a, b: abs(int(a[0, 0, 0]) - int(b[0, 0, 0])) > 100,
        is_duplicate=lambda a, b: np.array_equal(a, b),
    )
    out = run_stage(stage, src)
    values = [int(f.image[0, 0, 0]) for f in out]
    # (10,10) duplicate: repeated; (10,200) cut: old scene held; (200,210) morphed; tail held.
    assert values == [10, 10, 10, 10, 200, 205, 210, 210]
    assert [f.source for f in out][1:4] == ["repeated", "decoded", "repeated"]
    assert stage.cuts == 1 and stage.duplicates == 1 and interp.prepared == 1


def test_preview_rides_on_a_progress_event_as_a_small_jpeg():
    import base64

    import cv2

    events = []
    ctx = JobContext(on_progress=events.append, preview_interval_s=10.0)
    ctx.stage("generate", 0.2, 0.8)
    ctx.progress(0.5, done=5, total=10, force=True)
    image = np.zeros((600, 900, 3), np.uint8)
    image[:, :450] = (255, 0, 0)
    assert ctx.preview(image) is True
    assert ctx.preview(image) is False  # at most one per preview_interval_s
    ev = events[-1]
    assert ev.preview and ev.preview.startswith("data:image/jpeg;base64,")
    assert (ev.progress, ev.done, ev.total) == (pytest.approx(0.5), 5, 10)
    jpeg = np.frombuffer(base64.b64decode(ev.preview.split(",", 1)[1]), np.uint8)
    small = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1]
    assert max(small.shape[:2]) == 192 and small.shape[1] > small.shape[0]
    assert small[:, :40].mean(axis=(0, 1))[0] > 200 and small[:, -40:].max() < 30  # RGB kept


def test_preview_costs_nothing_without_listeners():
    ctx = JobContext()
    assert ctx.preview(np.zeros((8, 8, 3), np.uint8)) is False
