"""Synthetic scenes with exact rigid motion, for interpolation tests.

``moving_scene(w, h, t)`` is a textured background translating at ``bg_velocity`` px per
unit time, with a differently textured square in front moving at ``fg_velocity`` (so it
covers and uncovers background: real occlusions). Rendered analytically (sums of
sinusoids), so the true frame at any fractional time is known exactly.
"""

from __future__ import annotations

import numpy as np


def _texture(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(x.shape + (3,), np.float64)
    for _ in range(10):
        fx, fy = rng.uniform(-0.5, 0.5, 2)
        phase = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(10, 25, 3)
        out += amp * np.sin(fx * x + fy * y + phase)[..., None]
    return out


def moving_scene(width: int, height: int, t: float, *, scene: int = 0,
                 bg_velocity: tuple[float, float] = (6.0, 2.0),
                 fg_velocity: tuple[float, float] = (-7.0, 3.0)) -> np.ndarray:
    """RGB uint8 frame at time ``t`` (frames are usually at t = 0, 1, 2, ...)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    img = 128.0 + _texture(xx - bg_velocity[0] * t, yy - bg_velocity[1] * t, 10 + scene)
    side = max(6, min(width, height) // 3)
    cx = width / 2 + fg_velocity[0] * t
    cy = height / 2 + fg_velocity[1] * t
    inside = (np.abs(xx - cx) < side / 2) & (np.abs(yy - cy) < side / 2)
    fg = 128.0 + 1.5 * _texture(xx - cx, yy - cy, 99 + scene)
    img[inside] = fg[inside]
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
