"""Faces across video frames: stable track ids, and boxes/points smoothed without lag.

Matching: each new face goes to the live track whose last box overlaps it most (IoU >= 0.3),
or failing that whose centre is within half a face size; a track missed for more than
``max_gap`` updates ends; ``cut=True`` (a scene cut) ends them all. Ids are never reused.

Smoothing is a One Euro filter (Casiez, Roussel and Vogel, CHI 2012), one per track, shared by
the box, the five points and the dense landmarks so the face keeps its shape: a low-pass
filter whose cutoff rises with the face's speed. Speed is measured in face sizes per update,
so the same settings suit small and large faces: a still face is filtered at ``min_cutoff``
(jitter removed), a moving one at ``min_cutoff + beta * speed`` (little lag). Time is counted
in updates: call :meth:`FaceTracker.update` once per analysed frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from reelsmith.analysis.faces.detect import box_iou
from reelsmith.analysis.faces.types import Face


def _alpha(cutoff: float) -> float:
    """Smoothing factor of a first-order low-pass at ``cutoff`` (cycles per update)."""
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau)


@dataclass
class OneEuro:
    """A One Euro filter over a dict of arrays sharing one speed-adaptive cutoff."""

    min_cutoff: float = 0.02
    beta: float = 10.0
    d_cutoff: float = 1.0
    state: dict[str, np.ndarray] = field(default_factory=dict)
    speed: float = 0.0

    def __call__(self, values: dict[str, np.ndarray], anchor: str, scale: float) -> dict[str, np.ndarray]:
        """Filtered copies of ``values``; ``anchor`` is the key whose mean point sets the speed,
        ``scale`` the face size that speed is divided by."""
        if not self.state or any(k not in self.state or self.state[k].shape != v.shape
                                 for k, v in values.items()):
            self.state = {k: np.asarray(v, np.float64).copy() for k, v in values.items()}
            self.speed = 0.0
            return {k: v.astype(np.float32) for k, v in self.state.items()}
        move = np.asarray(values[anchor], np.float64).reshape(-1, 2).mean(0) \
            - self.state[anchor].reshape(-1, 2).mean(0)
        raw_speed = float(np.linalg.norm(move)) / max(scale, 1.0)
        a_d = _alpha(self.d_cutoff)
        self.speed = a_d * raw_speed + (1 - a_d) * self.speed
        a = _alpha(self.min_cutoff + self.beta * self.speed)
        for k, v in values.items():
            self.state[k] = a * np.asarray(v, np.float64) + (1 - a) * self.state[k]
        return {k: v.astype(np.float32) for k, v in self.state.items()}


@dataclass
class _Track:
    id: int
    box: np.ndarray
    missed: int = 0
    filter: OneEuro = field(default_factory=OneEuro)


class FaceTracker:
    """Assigns ``track_id`` and smooths faces frame after frame (see the module docstring)."""

    def __init__(self, *, max_gap: int = 5, iou_threshold: float = 0.3, smooth: bool = True,
                 min_cutoff: float = 0.02, beta: float = 10.0) -> None:
        self.max_gap = max_gap
        self.iou_threshold = iou_threshold
        self.smooth = smooth
        self.min_cutoff = min_cutoff
        self.beta = beta
        self._tracks: list[_Track] = []
        self._next_id = 0

    @property
    def tracks_started(self) -> int:
        """How many tracks have been started so far (ids run 0 .. tracks_started - 1)."""
        return self._next_id

    def reset(self) -> None:
        """End every track (the next faces start new ones)."""
        self._tracks = []

    def _match(self, faces: list[Face]) -> list[_Track | None]:
        pairs = []
        for i, f in enumerate(faces):
            for t in self._tracks:
                score = box_iou(f.box, t.box)
                if score < self.iou_threshold:
                    size = max(min(t.box[2] - t.box[0], t.box[3] - t.box[1]), 1.0)
                    ca, cb = (f.box[:2] + f.box[2:]) / 2, (t.box[:2] + t.box[2:]) / 2
                    dist = float(np.linalg.norm(ca - cb)) / size
                    if dist >= 0.5:
                        continue
                    score = 0.01 * (0.5 - dist)  # below any IoU match
                pairs.append((score, i, t))
        out: list[_Track | None] = [None] * len(faces)
        used: set[int] = set()
        for _, i, t in sorted(pairs, key=lambda p: -p[0]):
            if out[i] is None and t.id not in used:
                out[i] = t
                used.add(t.id)
        return out

    def update(self, faces: list[Face], *, cut: bool = False) -> list[Face]:
        """Copies of ``faces`` with ``track_id`` set and box/kps/landmarks smoothed.

        ``cut``: this frame starts a new scene (e.g. ``reelsmith.ops.scene_cut.is_scene_cut``
        on the previous and current frame): every track ends first.
        """
        if cut:
            self.reset()
        matched = self._match(faces)
        out = []
        for f, track in zip(faces, matched, strict=True):
            if track is None:
                track = _Track(self._next_id, f.box.copy(),
                               filter=OneEuro(self.min_cutoff, self.beta))
                self._next_id += 1
                self._tracks.append(track)
            track.missed = -1  # seen this update (incremented to 0 below)
            track.box = f.box.copy()
            out.append(self._smoothed(f, track))
        for t in self._tracks:
            t.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_gap]
        return out

    def _smoothed(self, f: Face, track: _Track) -> Face:
        if not self.smooth:
            return replace(f, track_id=track.id)
        values = {"box": f.box, "kps": f.kps}
        if f.landmarks is not None:
            values["landmarks"] = f.landmarks
        s = track.filter(values, "kps", f.size)
        return replace(f, box=s["box"], kps=s["kps"], landmarks=s.get("landmarks", f.landmarks),
                       track_id=track.id, extra=dict(f.extra))
