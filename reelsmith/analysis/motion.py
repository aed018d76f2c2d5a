"""Motion per analysis frame: mean absolute difference of small greyscale frames."""

from __future__ import annotations

import numpy as np


def gray(rgb: np.ndarray) -> np.ndarray:
    """Luma as float32 in 0..1 (BT.601 weights; exact colour is irrelevant here)."""
    img = rgb.astype(np.float32)
    return (0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]) / 255.0


class MotionMeter:
    """Feed frames in time order; ``update`` returns the motion since the previous frame.

    The value is the mean absolute luma difference (0..1) after a small blur, so sensor noise
    and compression shimmer count for little; ``centroid`` is where the change was.
    """

    def __init__(self) -> None:
        self._prev: np.ndarray | None = None
        self.centroid: tuple[float, float] | None = None

    def update(self, rgb: np.ndarray) -> float:
        import cv2

        g = cv2.GaussianBlur(gray(rgb), (5, 5), 0)
        prev, self._prev = self._prev, g
        if prev is None or prev.shape != g.shape:
            self.centroid = None
            return 0.0
        diff = np.abs(g - prev)
        mass = diff.sum()
        if mass > 1e-6:
            h, w = diff.shape
            self.centroid = (float((diff.sum(axis=0) * np.arange(w)).sum() / mass / w),
                             float((diff.sum(axis=1) * np.arange(h)).sum() / mass / h))
        else:
            self.centroid = None
        return float(diff.mean())


def suppress_cuts(times: np.ndarray, values: np.ndarray, cuts: list[float],
                  step: float) -> np.ndarray:
    """A scene cut is not motion: replace samples within one step of a cut by neighbours."""
    out = values.copy()
    if not cuts or values.size == 0:
        return out
    bad = np.zeros(values.size, dtype=bool)
    for c in cuts:
        bad |= np.abs(times - c) <= step * 1.01
    good = ~bad
    if good.any():
        out[bad] = np.interp(times[bad], times[good], values[good])
    else:
        out[:] = 0
    return out
