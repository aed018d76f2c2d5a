"""Putting one image into another under a mask: Poisson (seamless) blending and feathering.

``seamless_blend`` solves the Poisson equation with OpenCV's ``seamlessClone`` (NORMAL_CLONE):
inside the mask the result keeps ``src``'s gradients, on the mask's edge it takes ``dst``'s
values, so a colour or brightness offset between the two fades out instead of leaving a seam.
OpenCV's solver misbehaves when the mask touches the image border and is slow on whole frames,
so the work is done on the mask's bounding region padded by reflection, and the result is then
laid over ``dst`` with the (possibly soft) mask as alpha: pixels where the mask is 0 are
returned exactly as they were in ``dst``.
"""

from __future__ import annotations

import cv2
import numpy as np

from reelsmith.errors import InputError

#: Pixels of reflected context around the mask's bounding box given to the Poisson solver.
_PAD = 8


def _check(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if dst.dtype != np.uint8 or src.dtype != np.uint8 or dst.ndim != 3 or dst.shape[2] != 3:
        raise InputError("Blending needs HxWx3 uint8 images.")
    if src.shape != dst.shape:
        raise InputError(f"Blending needs images of one size: src {src.shape} vs dst {dst.shape}.")
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.shape != dst.shape[:2]:
        raise InputError(f"The mask is {m.shape}, the image {dst.shape[:2]}: they must match.")
    return np.clip(m, 0.0, 1.0)


def feather_blend(dst: np.ndarray, src: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
    """``dst + alpha * (src - dst)`` per pixel (``alpha`` a float HxW mask in [0, 1] or a scalar),
    rounded back to uint8; pixels with alpha 0 are exactly ``dst``'s."""
    if np.isscalar(alpha):
        alpha = np.full(dst.shape[:2], float(alpha), np.float32)
    a = _check(dst, src, alpha)
    out = dst.copy()
    ys, xs = np.nonzero(a > 0)
    if not len(ys):
        return out
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    d = dst[y0:y1, x0:x1].astype(np.float32)
    s = src[y0:y1, x0:x1].astype(np.float32)
    w = a[y0:y1, x0:x1, None]
    out[y0:y1, x0:x1] = np.clip(np.rint(d + (s - d) * w), 0, 255).astype(np.uint8)
    return out


def seamless_blend(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``src`` blended into ``dst`` (same size, already aligned) by Poisson blending over the
    region where ``mask`` > 0, then laid over ``dst`` with ``mask`` as alpha. An empty mask
    returns a copy of ``dst``; masks touching the border work. Raises :class:`InputError` when
    the sizes or types do not match."""
    m = _check(dst, src, mask)
    support = m > 0
    ys, xs = np.nonzero(support)
    if not len(ys):
        return dst.copy()
    h, w = m.shape
    y0, y1 = max(ys.min() - _PAD, 0), min(ys.max() + 1 + _PAD, h)
    x0, x1 = max(xs.min() - _PAD, 0), min(xs.max() + 1 + _PAD, w)
    p = _PAD + 2
    def pad(a: np.ndarray) -> np.ndarray:
        return cv2.copyMakeBorder(a, p, p, p, p, cv2.BORDER_REFLECT_101)
    d = pad(np.ascontiguousarray(dst[y0:y1, x0:x1]))
    s = pad(np.ascontiguousarray(src[y0:y1, x0:x1]))
    sup = np.zeros(d.shape[:2], np.uint8)
    sup[p:-p, p:-p] = support[y0:y1, x0:x1] * 255
    # seamlessClone keeps the mask's bounding box and centres it on ``center``; give it the
    # box's own centre so nothing moves (OpenCV halves the size with integer division).
    bx, by, bw, bh = cv2.boundingRect(sup)
    cloned = cv2.seamlessClone(s, d, sup, (bx + bw // 2, by + bh // 2), cv2.NORMAL_CLONE)
    region = cloned[p:-p, p:-p]
    full = dst.copy()
    full[y0:y1, x0:x1] = region
    return feather_blend(dst, full, m)
