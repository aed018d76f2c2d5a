"""Built-in flow interpolation: quality on a synthetic moving pattern, cuts, duplicates,
bit depths, odd sizes, arbitrary t."""

from __future__ import annotations

import numpy as np
import pytest
from motiongen import moving_scene

from mediagen import pattern, psnr
from reelsmith.errors import InputError
from reelsmith.ops import FlowInterpolator, interpolate_pair, is_duplicate, is_scene_cut
from reelsmith.ops.flow import bidirectional_flow
from reelsmith.ops.warp import consistency

W, H = 160, 96
FPS = 10.0  # the square moves 4 px per frame, the texture 2 px


def frames(t0: float, dt: float = 1 / FPS, w: int = W, h: int = H, scene: int = 0):
    return (pattern(w, h, t0, scene=scene), pattern(w, h, t0 + dt, scene=scene))


def average(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a.astype(np.float32) + b) / 2 + 0.5).astype(a.dtype)


def blend(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return ((1 - t) * a.astype(np.float32) + t * b.astype(np.float32) + 0.5).astype(a.dtype)


@pytest.mark.parametrize("quality", ["fast", "medium", "high"])
def test_middle_frame_beats_averaging(quality):
    # Rigid motion with occlusions (a square moving across a moving background).
    a, b = moving_scene(W, H, 0), moving_scene(W, H, 1)
    truth = moving_scene(W, H, 0.5)
    interp = FlowInterpolator(quality=quality)
    state = interp.prepare(a, b)
    assert state.kind == "flow"
    mid = interp.interpolate(state, 0.5)
    assert mid.shape == a.shape and mid.dtype == np.uint8
    ours, avg = psnr(mid, truth), psnr(average(a, b), truth)
    assert ours > avg + 6.0, (ours, avg)


def test_mediagen_pattern_beats_averaging():
    # mediagen's pattern mixes a static texture with a moving shading layer (transparent
    # motion, which no single flow explains) and a square moving by whole pixels.
    a, b = frames(0.5)
    truth = pattern(W, H, 0.5 + 0.5 / FPS)
    assert psnr(interpolate_pair(a, b), truth) > psnr(average(a, b), truth) + 2.0


@pytest.mark.parametrize("t", [0.25, 0.75])
def test_quarter_times(t):
    a, b = moving_scene(W, H, 0), moving_scene(W, H, 1)
    truth = moving_scene(W, H, t)
    mid = interpolate_pair(a, b, t)
    assert psnr(mid, truth) > psnr(blend(a, b, t), truth) + 5.0


def test_endpoints_and_frames_between():
    a, b = frames(0.2)
    interp = FlowInterpolator()
    state = interp.prepare(a, b)
    assert np.array_equal(interp.interpolate(state, 0.0), a)
    assert np.array_equal(interp.interpolate(state, 1.0), b)
    out = interp.frames_between(a, b, [1 / 3, 2 / 3])
    assert len(out) == 2
    for t, f in zip([1 / 3, 2 / 3], out, strict=True):
        truth = pattern(W, H, 0.2 + t / FPS)
        assert psnr(f, truth) > psnr(blend(a, b, t), truth)
    with pytest.raises(InputError):
        interp.interpolate(state, 1.5)


@pytest.mark.parametrize("make", [pattern, moving_scene])
def test_scene_cut_held_never_morphed(make):
    a = make(W, H, 0.4, scene=0)
    b = make(W, H, 0.44, scene=1)
    assert is_scene_cut(a, b)
    interp = FlowInterpolator()
    state = interp.prepare(a, b)
    assert state.cut and state.kind == "cut"
    assert np.array_equal(interp.interpolate(state, 0.3), a)
    assert np.array_equal(interp.interpolate(state, 0.7), b)


@pytest.mark.parametrize("t0", [0.0, 0.7, 1.3])
def test_no_false_cut_on_motion(t0):
    a, b = frames(t0, dt=0.2)  # 8 px of motion for the square
    assert not is_scene_cut(a, b)
    assert not FlowInterpolator().prepare(a, b).cut
    assert not is_scene_cut(moving_scene(W, H, t0), moving_scene(W, H, t0 + 1))


def test_cut_threshold_is_configurable():
    a, b = frames(0.1)
    state = FlowInterpolator(cut_threshold=0.0).prepare(a, b)
    assert state.cut
    assert np.array_equal(FlowInterpolator(cut_threshold=0.0).interpolate(state, 0.4), a)


def test_duplicates_copied_without_flow():
    a = pattern(W, H, 0.5)
    assert is_duplicate(a, a.copy())
    assert not is_duplicate(*frames(0.5))
    interp = FlowInterpolator()
    state = interp.prepare(a, a.copy())
    assert state.duplicate and state.f01 is None
    out = interp.interpolate(state, 0.5)
    assert np.array_equal(out, a) and out is not a


def test_uint16_input():
    a, b = moving_scene(W, H, 0), moving_scene(W, H, 1)
    # 10-bit content decoded to 16 bits: use the low bits too.
    a16 = a.astype(np.uint16) * 256 + 100
    b16 = b.astype(np.uint16) * 256 + 100
    mid = interpolate_pair(a16, b16, 0.5)
    assert mid.dtype == np.uint16 and mid.shape == a16.shape
    truth = moving_scene(W, H, 0.5)
    mid_as8 = np.clip((mid.astype(np.float32) - 100) / 256, 0, 255).round().astype(np.uint8)
    assert psnr(mid_as8, truth) > psnr(average(a, b), truth) + 6
    # Same picture as the 8-bit path, within rounding.
    assert np.abs(mid_as8.astype(np.float32) - interpolate_pair(a, b, 0.5)).mean() < 1.0


def test_odd_size():
    a, b = moving_scene(175, 143, 0), moving_scene(175, 143, 1)
    mid = interpolate_pair(a, b, 0.5)
    assert mid.shape == (143, 175, 3)
    truth = moving_scene(175, 143, 0.5)
    assert psnr(mid, truth) > psnr(average(a, b), truth) + 6


def test_large_frames_downscaled_flow():
    # Above the medium preset's flow area: flow is computed small and scaled back.
    a, b = moving_scene(704, 400, 0), moving_scene(704, 400, 1)
    f01, f10 = bidirectional_flow(a, b)
    assert f01.shape == (400, 704, 2)
    # the background moves by (6, 2) px
    assert abs(float(np.median(f01[..., 0])) - 6.0) < 0.5
    assert abs(float(np.median(f10[..., 1])) + 2.0) < 0.5
    truth = moving_scene(704, 400, 0.5)
    mid = interpolate_pair(a, b, 0.5)
    assert psnr(mid, truth) > psnr(average(a, b), truth) + 6


def test_occlusion_mask_flags_inconsistent_flow():
    f01 = np.zeros((20, 30, 2), np.float32)
    f10 = np.zeros((20, 30, 2), np.float32)
    f10[5:10, 5:10] = 6.0  # disagrees with f01 there
    f01[5:10, 5:10] = 0.0
    _, occ = consistency(f01, f10)
    assert occ[7, 7] > 0.9 and occ[15, 20] < 1e-6


@pytest.mark.parametrize("bad", [
    np.zeros((10, 10), np.uint8),
    np.zeros((10, 10, 3), np.float32),
    np.zeros((10, 10, 4), np.uint8),
])
def test_bad_input_is_input_error(bad):
    with pytest.raises(InputError):
        FlowInterpolator().prepare(bad, bad)


def test_mismatched_pair_and_bad_quality():
    with pytest.raises(InputError):
        FlowInterpolator().prepare(np.zeros((10, 12, 3), np.uint8), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputError, match="quality"):
        FlowInterpolator(quality="ultra")
