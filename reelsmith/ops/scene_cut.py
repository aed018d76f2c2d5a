"""Do two frames belong to the same shot? The scene-cut check of frame interpolation.

:func:`cut_score` compares one pair with motion compensated, so that a fast pan is not a cut;
interpolation holds the nearest frame across a cut instead of morphing. The HSV histogram
distance it uses (:func:`hsv_histogram`, :func:`histogram_distance`) is also the built-in
fallback of the streaming detector in :mod:`reelsmith.analysis.scenes`.
"""

from __future__ import annotations

import cv2
import numpy as np

from reelsmith.ops.flow import check_pair, downscale, flow_size, to_gray8
from reelsmith.ops.warp import photometric_error

#: Default for :func:`is_scene_cut`: motion-compensated difference score above which two
#: frames are treated as belonging to different shots.
DEFAULT_CUT_THRESHOLD = 0.30
_PAIR_PIXELS = 16_384  # frames are compared at about this many pixels


def hsv_histogram(rgb: np.ndarray, bins: tuple[int, int, int],
                  size: tuple[int, int] | None = None) -> np.ndarray:
    """A normalised, flattened hue/saturation/value histogram of an RGB frame (8 or 16-bit),
    optionally after an area resize to ``size`` (width, height)."""
    img = rgb if rgb.dtype == np.uint8 else (rgb >> 8).astype(np.uint8)
    if size is not None:
        img = cv2.resize(np.ascontiguousarray(img), size, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(bins), [0, 180, 0, 256, 0, 256])
    return cv2.normalize(hist, None).flatten()


def histogram_distance(ha: np.ndarray, hb: np.ndarray) -> float:
    r"""Bhattacharyya distance of two :func:`hsv_histogram`\ s: 0 same colours, 1 disjoint."""
    return float(cv2.compareHist(ha, hb, cv2.HISTCMP_BHATTACHARYYA))


def cut_score(a: np.ndarray, b: np.ndarray) -> float:
    """How unlike two frames are once motion is compensated, in [0, 1].

    Both frames are reduced to small blurred grayscale images, ``b`` is aligned to ``a``
    with a coarse optical flow, and the remaining mean absolute difference is compared
    with the frames' own contrast; a colour-histogram distance catches cuts between
    shots with similar structure. Plain motion scores low, a change of shot high.
    Raises InputError for frames of different sizes or depths.
    """
    check_pair(a, b)
    size = flow_size(a.shape[1], a.shape[0], _PAIR_PIXELS)
    ga = cv2.GaussianBlur(downscale(to_gray8(a), size), (3, 3), 0)
    gb = cv2.GaussianBlur(downscale(to_gray8(b), size), (3, 3), 0)
    if min(size) >= 16:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = dis.calc(ga, gb, None)
        residual = photometric_error(ga, gb, flow)
    else:
        residual = np.abs(ga.astype(np.float32) - gb.astype(np.float32))
    contrast = 0.5 * (float(ga.std()) + float(gb.std())) + 8.0
    structural = min(1.0, float(residual.mean()) / contrast)
    colour = histogram_distance(hsv_histogram(a, (12, 4, 4), size), hsv_histogram(b, (12, 4, 4), size))
    return max(structural, colour)


def is_scene_cut(a: np.ndarray, b: np.ndarray, threshold: float = DEFAULT_CUT_THRESHOLD) -> bool:
    """True when ``a`` and ``b`` belong to different shots (see :func:`cut_score`)."""
    return cut_score(a, b) > threshold
