"""Tracking and smoothing on a synthetic clip made from a real face (skimage astronaut)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reelsmith.analysis.faces.find import FaceFinder
from reelsmith.analysis.faces.track import FaceTracker
from reelsmith.analysis.faces.types import Face

data = pytest.importorskip("skimage.data")

H, W, STILL, N = 360, 480, 20, 60


def _offset(i: int) -> tuple[float, float]:
    if i < STILL:
        return 40.0, 60.0
    t = (i - STILL) / (N - STILL)
    return 40.0 + 200 * (1 - np.cos(np.pi * t)) / 2, 60.0 + 40 * np.sin(np.pi * t)


def _clip() -> tuple[list[np.ndarray], np.ndarray]:
    """A face pasted on a gradient, still then moving smoothly, with noise and JPEG loss."""
    face = data.astronaut()[20:240, 130:320]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W]
    bg = np.stack([80 + 60 * xx / W, 90 + 40 * yy / H, 120 + 0 * xx], -1).astype(np.float32)
    frames, offs = [], []
    for i in range(N):
        x, y = _offset(i)
        m = np.float32([[1, 0, x], [0, 1, y]])
        warped = cv2.warpAffine(face, m, (W, H)).astype(np.float32)
        alpha = cv2.warpAffine(np.ones(face.shape[:2], np.float32), m, (W, H))[..., None]
        img = np.clip(warped * alpha + bg * (1 - alpha) + rng.normal(0, 3, bg.shape), 0, 255)
        _, enc = cv2.imencode(".jpg", img.astype(np.uint8)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 70])
        frames.append(cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1])
        offs.append((x, y))
    return frames, np.array(offs)[:, None, :]


def _second_diff(a: np.ndarray) -> float:
    return float(np.abs(np.diff(a, 2, axis=0)).mean())


def test_smoothing_removes_jitter_without_dragging_a_moving_face():
    frames, offs = _clip()
    finder = FaceFinder("auto", landmarks=True)
    tracker = FaceTracker()
    raw, smooth, ids = [], [], set()
    for img in frames:
        faces = finder.find(img).faces
        assert len(faces) == 1
        out = tracker.update(faces)
        pts = "landmarks" if faces[0].landmarks is not None else "kps"
        raw.append(getattr(faces[0], pts))
        smooth.append(getattr(out[0], pts))
        ids.add(out[0].track_id)
    raw_a, smooth_a = np.array(raw), np.array(smooth)
    assert ids == {0}
    # still part: the face does not move, every second difference is jitter
    still_raw, still_smooth = _second_diff(raw_a[:STILL]), _second_diff(smooth_a[:STILL])
    assert still_smooth < 0.5 * still_raw, (still_raw, still_smooth)
    # moving part: error against the true path (points found on the still face, moved)
    truth = np.median(raw_a[:STILL] - offs[:STILL], axis=0) + offs
    err_raw = np.linalg.norm(raw_a[STILL:] - truth[STILL:], axis=2).mean()
    err_smooth = np.linalg.norm(smooth_a[STILL:] - truth[STILL:], axis=2).mean()
    assert err_smooth < err_raw + 1.0, (err_raw, err_smooth)  # lag under a pixel on average
    # and overall, relative to the true motion, the smoothed path is steadier
    assert _second_diff(smooth_a - truth) < _second_diff(raw_a - truth)


def _face(x: float, y: float, s: float = 60) -> Face:
    box = np.array([x, y, x + s, y + s], np.float32)
    kps = np.array([[x + .3 * s, y + .4 * s], [x + .7 * s, y + .4 * s], [x + .5 * s, y + .6 * s],
                    [x + .35 * s, y + .8 * s], [x + .65 * s, y + .8 * s]], np.float32)
    return Face(box=box, score=0.9, kps=kps)


def test_ids_are_stable_survive_gaps_and_reset_at_cuts():
    tr = FaceTracker(max_gap=3)
    a, b = [f.track_id for f in tr.update([_face(10, 10), _face(300, 10)])]
    assert (a, b) == (0, 1)
    # order swapped and both moved a little: ids follow the faces
    assert [f.track_id for f in tr.update([_face(304, 12), _face(13, 11)])] == [1, 0]
    for _ in range(3):  # face 0 missing for three frames: within the gap
        tr.update([_face(306, 12)])
    assert [f.track_id for f in tr.update([_face(15, 12), _face(306, 12)])] == [0, 1]
    for _ in range(5):  # gone for longer than the gap: a new id when it comes back
        tr.update([_face(306, 12)])
    assert tr.update([_face(15, 12)])[0].track_id == 2
    assert tr.update([_face(306, 12)], cut=True)[0].track_id == 3
    assert tr.tracks_started == 4


def test_tracker_returns_copies():
    tr = FaceTracker()
    f = _face(10, 10)
    tr.update([f])
    g = _face(30, 10)
    out = tr.update([g])[0]
    assert f.track_id is None and g.track_id is None and out.track_id == 0
    assert out is not g
