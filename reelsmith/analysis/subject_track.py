"""Follow the subject of a shot along one axis, for a crop window that keeps it in view.

The subject is the largest face (OpenCV's Haar cascade, checked every few frames on a
frame at most 360 px, remembered for a while) or, when there is none, the centroid of
motion between small greyscale frames. The position moves smoothly towards it with a dead
zone, so a crop that follows it does not wobble. Classical, no weights: the cascade ships
with OpenCV.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

_FACE_EVERY = 5  # frames between face detections
_FACE_MEMORY = 15  # frames a detected face stays the target
_DEAD_ZONE = 0.04  # of the span: smaller moves of the target are ignored
_MAX_STEP = 0.025  # of the span: the most the position moves per frame
_EASE = 0.15  # fraction of the remaining distance moved per frame


class SubjectTracker:
    """Feed frames of one shot in order; :meth:`update` returns the subject's smoothed position.

    ``axis`` is "x" (position in pixels from the left, for a window narrower than the frame)
    or "y" (from the top). Call :meth:`reset` at a cut.
    """

    def __init__(self, src_w: int, src_h: int, axis: str = "x") -> None:
        self.horizontal = axis == "x"
        self.span = src_w if self.horizontal else src_h
        self.scale = 160.0 / max(src_w, src_h)
        self.small = (max(8, round(src_w * self.scale)), max(8, round(src_h * self.scale)))
        path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
        cascade = cv2.CascadeClassifier(path)
        self.cascade: cv2.CascadeClassifier | None = None if cascade.empty() else cascade
        self.reset()

    def reset(self) -> None:
        self.pos: float | None = None
        self.prev: np.ndarray | None = None
        self.n = 0
        self.face: float | None = None
        self.face_age = 10**6

    def _faces(self, img: np.ndarray) -> float | None:
        """Centre (along the axis, source pixels) of the largest face, or None."""
        if self.cascade is None:
            return None
        h, w = img.shape[:2]
        s = min(1.0, 360.0 / max(w, h))
        g = cv2.cvtColor(cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s)))),
                         cv2.COLOR_RGB2GRAY)
        found = self.cascade.detectMultiScale(g, scaleFactor=1.15, minNeighbors=5,
                                              minSize=(max(12, g.shape[0] // 12),) * 2)
        if len(found) == 0:
            return None
        x, y, fw, fh = max(found, key=lambda r: r[2] * r[3])
        return float((x + fw / 2) if self.horizontal else (y + fh / 2)) / s

    def update(self, img: np.ndarray) -> float:
        """The subject's smoothed position (pixels along the axis) after frame ``img``."""
        if self.n % _FACE_EVERY == 0:
            f = self._faces(img)
            if f is not None:
                self.face, self.face_age = f, 0
        self.face_age += 1
        g = cv2.cvtColor(cv2.resize(img, self.small, interpolation=cv2.INTER_AREA),
                         cv2.COLOR_RGB2GRAY).astype(np.float32)
        target = None
        if self.face is not None and self.face_age < _FACE_MEMORY:
            target = self.face
        elif self.prev is not None:
            diff = np.abs(g - self.prev)
            diff[diff < 12] = 0
            mass = diff.sum()
            if mass > 0.002 * diff.size * 255:
                prof = diff.sum(axis=0 if self.horizontal else 1)
                target = float((prof * np.arange(prof.size)).sum() / mass) / self.scale
        self.prev = g
        self.n += 1
        if target is None:
            target = self.pos if self.pos is not None else self.span / 2
        if self.pos is None:
            self.pos = target
        else:
            delta = target - self.pos
            if abs(delta) > _DEAD_ZONE * self.span:  # dead zone: ignore small wobbles
                step = max(-_MAX_STEP * self.span, min(_MAX_STEP * self.span, _EASE * delta))
                self.pos += step
        return self.pos
