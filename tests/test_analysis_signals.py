"""Analysis signals, fusion and segment selection on synthetic data and tiny media."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from highlights_media import audio_for, make_stitched  # noqa: E402

from reelsmith.analysis import fusion, loudness, motion, vad  # noqa: E402
from reelsmith.analysis.audio_decode import decode_mono  # noqa: E402
from reelsmith.analysis.pipeline import AnalysisOptions, analyze  # noqa: E402
from reelsmith.analysis.scenes import SceneCutDetector, refine_cuts, scenes_from_cuts  # noqa: E402
from reelsmith.analysis.transcript import Cue, Transcript, hallucination_check  # noqa: E402

SR = 16000


def _resample(x: np.ndarray) -> np.ndarray:
    return x[::3].copy()  # 48 kHz -> 16 kHz is fine for these synthetic signals


def test_loudness_marks_the_loud_window():
    x = np.concatenate([audio_for("dull", 4, 1), audio_for("loud", 2, 2), audio_for("dull", 4, 3)])
    x = _resample(x)
    lv = loudness.window_rms_db(x, SR, 20, 0.5)
    assert lv[8:12].min() > lv[:6].max() + 20
    dyn = loudness.dynamics(lv, 0.5)
    assert int(np.argmax(dyn)) in range(7, 13)
    s = loudness.summary(x, lv)
    assert s["peak_db"] > s["mean_db"]


def test_loudness_of_silence_is_the_floor():
    lv = loudness.window_rms_db(np.zeros(SR * 2, np.float32), SR, 4, 0.5)
    assert np.all(lv == loudness.FLOOR_DB)


def test_vad_finds_speech_like_sound_not_silence():
    x = _resample(np.concatenate([audio_for("silence", 2, 1), audio_for("speech", 2, 2),
                                  audio_for("silence", 2, 3)]))
    res = vad.detect_speech(x, SR)
    assert res.backend == "webrtcvad"
    w = res.window_ratio(12, 0.5)
    assert w[4:8].mean() > 0.5
    assert w[:3].max() == 0 and w[-3:].max() == 0
    assert res.segments and 1.5 <= res.segments[0][0] <= 2.4
    assert 0.2 < res.ratio < 0.5


def test_vad_without_audio_says_so():
    res = vad.detect_speech(None, SR)
    assert res.ratio == 0 and "no audio" in res.reason


def test_energy_fallback_and_silero_contract(tmp_path):
    x = _resample(np.concatenate([audio_for("silence", 1, 1), audio_for("speech", 2, 2)]))
    flags = vad._energy(x, SR)
    assert flags[40:].mean() > flags[:30].mean()
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    # A tiny model with Silero v5's I/O contract: prob = sigmoid(2000*mean(x^2) - 3).
    nodes = [
        helper.make_node("Mul", ["input", "input"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["ms"], keepdims=1, axes=[1]),
        helper.make_node("Mul", ["ms", "k"], ["z0"]),
        helper.make_node("Sub", ["z0", "b"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["output"]),
        helper.make_node("Identity", ["state"], ["stateN"]),
    ]
    graph = helper.make_graph(
        nodes, "vad",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, None]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, 1, 128]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1]),
         helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [2, 1, 128])],
        [helper.make_tensor("k", TensorProto.FLOAT, [], [2000.0]),
         helper.make_tensor("b", TensorProto.FLOAT, [], [3.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, tmp_path / vad.SILERO_FILE)
    res = vad.detect_speech(x, SR, models_dir=tmp_path)
    assert res.backend == "silero-onnx"
    assert res.segments and 0.8 <= res.segments[0][0] <= 1.3


def test_motion_meter_and_cut_suppression():
    m = motion.MotionMeter()
    a = np.zeros((32, 48, 3), np.uint8)
    b = a.copy()
    b[8:20, 30:44] = 255
    assert m.update(a) == 0.0
    assert m.update(a) == 0.0
    v = m.update(b)
    assert v > 0.01 and m.centroid[0] > 0.5
    times = np.arange(10) * 0.2
    vals = np.zeros(10)
    vals[5] = 1.0
    assert motion.suppress_cuts(times, vals, [1.0], 0.2).max() < 0.01


def test_scene_detector_finds_the_cut(clip_with_cut):
    import av

    det = SceneCutDetector(25.0, min_scene_s=0.3)
    with av.open(str(clip_with_cut)) as c:
        for f in c.decode(video=0):
            det.process(f.to_ndarray(format="rgb24"), float(f.time))
    cuts = det.finish()
    assert len(cuts) == 1 and abs(cuts[0] - 1.0) < 0.05
    times = np.arange(50) / 25
    diffs = np.zeros(50)
    diffs[25] = 9
    assert refine_cuts([1.1], times, diffs, 0.3) == [1.0]
    assert scenes_from_cuts([1.0], 2.0) == [(0.0, 1.0), (1.0, 2.0)]


def test_histogram_fallback_detector(clip_with_cut):
    import av

    det = SceneCutDetector(25.0, min_scene_s=0.3)
    det._sd = None  # force the built-in backend
    det._prev_hist, det._threshold = None, 0.45
    with av.open(str(clip_with_cut)) as c:
        for f in c.decode(video=0):
            det.process(f.to_ndarray(format="rgb24"), float(f.time))
    cuts = det.finish()
    assert len(cuts) == 1 and abs(cuts[0] - 1.0) < 0.05


def test_fusion_drops_flat_signals_and_normalises():
    n = 40
    loud = np.full(n, -40.0)
    loud[10:14] = -10
    f = fusion.fuse({"loudness": loud, "motion": np.full(n, 0.01), "speech": np.zeros(n)})
    assert f.used == ["loudness"]
    assert "flat" in f.dropped["motion"] and "flat" in f.dropped["speech"]
    assert f.score[11] == pytest.approx(1.0) and f.score[0] == pytest.approx(0.0)
    f2 = fusion.fuse({"loudness": loud}, {"loudness": 0.0})
    assert f2.used == [] and np.all(f2.score == 0)


def _check_selection(sel, target, duration, min_clip, max_clip):
    assert sel.total <= target + 1e-6
    prev = -1.0
    for s, e in sel.segments:
        assert 0 <= s < e <= duration + 1e-6
        assert s >= prev
        prev = e
        assert e - s <= max_clip + 1.0 + 1e-6  # merging may join picks up to merge_gap apart


def test_select_picks_the_planted_peak_and_respects_the_budget():
    hop, duration = 0.5, 60.0
    n = int(duration / hop)
    score = np.full(n, 0.1, np.float32)
    score[60:72] = 0.9  # 30..36 s
    score[20:24] = 0.6  # 10..12 s
    sel = fusion.select(score, hop, duration, 10.0, min_clip=2, max_clip=6, cuts=[],
                        split_points=[], speech_segments=[])
    _check_selection(sel, 10.0, duration, 2, 6)
    covered = sum(max(0, min(e, 36) - max(s, 30)) for s, e in sel.segments)
    assert covered >= 5.5
    assert sel.total >= 8.0


def test_select_does_not_cut_words_and_snaps_to_cuts():
    hop, duration = 0.5, 30.0
    n = int(duration / hop)
    score = np.full(n, 0.1, np.float32)
    score[20:26] = 1.0  # 10..13 s
    speech = [(9.2, 10.6), (12.4, 13.3)]
    sel = fusion.select(score, hop, duration, 6.0, min_clip=2, max_clip=6, cuts=[14.0],
                        split_points=[], speech_segments=speech)
    _check_selection(sel, 6.0, duration, 2, 6)
    for s, e in sel.segments:
        for a, b in speech:
            assert not (a < s < b) and not (a < e < b), (s, e)
        assert not (s < 14.0 < e) or e - 14.0 > 0.75


def test_select_whole_video_and_tiny_target():
    score = np.linspace(0, 1, 20).astype(np.float32)
    sel = fusion.select(score, 0.5, 10.0, 12.0, min_clip=2, max_clip=5, cuts=[],
                        split_points=[], speech_segments=[])
    assert sel.segments == [(0.0, 10.0)]
    sel = fusion.select(score, 0.5, 10.0, 1.0, min_clip=2, max_clip=5, cuts=[],
                        split_points=[], speech_segments=[])
    assert 0.5 <= sel.total <= 1.0 and sel.segments[0][1] > 8.0


def test_flat_scores_spread_clips_over_the_video():
    score = np.zeros(120, np.float32)
    sel = fusion.select(score, 0.5, 60.0, 12.0, min_clip=3, max_clip=3, cuts=[],
                        split_points=[], speech_segments=[])
    starts = [s for s, _ in sel.segments]
    assert len(starts) >= 3 and max(starts) - min(starts) > 25


def test_split_long_scene_at_quiet_point_and_fixed_windows():
    score = np.ones(60, np.float32)
    score[30] = 0.0  # 15 s
    pts = fusion.split_long_scenes([(0.0, 30.0)], score, 0.5, 20.0, 2.0)
    assert pts == [15.0]
    flat = fusion.split_long_scenes([(0.0, 30.0)], np.ones(60, np.float32), 0.5, 10.0, 2.0)
    assert flat == [10.0, 20.0]


def test_auto_target_is_bounded():
    t, why = fusion.auto_target(600.0, np.zeros(1200, np.float32), 0.5)
    assert 15 <= t <= 90 and why
    t, _ = fusion.auto_target(8.0, np.zeros(16, np.float32), 0.5)
    assert t == 8.0


def test_hallucination_check():
    ok = Transcript([Cue(0, 2, "we scored a goal in the last minute")])
    assert hallucination_check(ok, 2.0) == ""
    assert "speech" in hallucination_check(ok, 0.2)
    rep = Transcript([Cue(i, i + 1, "thank you so much") for i in range(8)])
    assert hallucination_check(rep, 8.0)
    stock = Transcript([Cue(0, 1, "Thanks for watching!")])
    assert "stock" in hallucination_check(stock, 1.5)


def test_decode_mono_aligns_and_handles_no_audio(media_dir):
    src = make_stitched(media_dir / "sig_a.mp4", [("dull", 0.5), ("tone", 1.0)], cuts=False)
    x = decode_mono(src, SR)
    assert x is not None and abs(x.size / SR - 1.5) < 0.1
    assert np.abs(x[: SR // 4]).max() < 0.05 < np.abs(x[SR:]).max()
    silent = make_stitched(media_dir / "sig_na.mp4", [("dull", 0.5)], audio=False)
    assert decode_mono(silent, SR) is None


def test_analyze_one_pass(media_dir):
    src = make_stitched(media_dir / "sig_an.mp4",
                        [("dull", 2.0), ("action", 1.6), ("dull", 2.0)])
    an = analyze(src, options=AnalysisOptions(hop=0.5))
    assert an.n_windows == math.ceil(5.6 / 0.5)
    assert [round(c, 2) for c in an.cuts] == [2.0, 3.6]
    assert int(np.argmax(an.signals["loudness"])) in range(4, 7)
    assert an.signals["motion"][4:7].mean() > 5 * an.signals["motion"][:3].mean() + 1e-6
    assert an.backends["transcript"]["available"] is False
    assert an.frames_analysed < 5.6 * 25 / 2
