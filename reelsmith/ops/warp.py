"""Warping helpers: backward warping with cv2.remap, flow at intermediate time t,
forward-backward consistency and occlusion masks.

Conventions: flows are HxWx2 float32 in pixels (see :mod:`reelsmith.ops.flow`).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    xx.setflags(write=False)
    yy.setflags(write=False)
    return xx, yy


def sample_maps(flow: np.ndarray, factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Absolute sampling maps ``(x + factor*dx, y + factor*dy)`` for cv2.remap."""
    h, w = flow.shape[:2]
    xx, yy = _grid(h, w)
    if factor == 1.0:
        return xx + flow[..., 0], yy + flow[..., 1]
    return xx + factor * flow[..., 0], yy + factor * flow[..., 1]


def backward_warp(img: np.ndarray, flow: np.ndarray, factor: float = 1.0,
                  interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """``out(p) = img(p + factor * flow(p))``; borders replicate the edge pixels."""
    mx, my = sample_maps(flow, factor)
    return cv2.remap(img, mx, my, interpolation, borderMode=cv2.BORDER_REPLICATE)


def consistency(f01: np.ndarray, f10: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward-backward check of ``f01`` against ``f10``.

    Returns ``(err, occ)``: ``err`` is the squared length of ``f01(p) + f10(p + f01(p))``
    (0 where the two flows agree) and ``occ`` a soft occlusion mask in [0, 1] (1 where
    pixel p of frame 0 is most likely not visible in frame 1), using the usual
    magnitude-relative tolerance ``0.01 * (|f01|^2 + |f10|^2) + 0.5``.
    """
    f10w = backward_warp(f10, f01)
    d = f01 + f10w
    err = d[..., 0] ** 2 + d[..., 1] ** 2
    mag = (f01 ** 2).sum(-1) + (f10w ** 2).sum(-1)
    occ = 1.0 - np.exp(-err / (0.01 * mag + 0.5))
    return err, occ.astype(np.float32)


def photometric_error(g0: np.ndarray, g1: np.ndarray, f01: np.ndarray) -> np.ndarray:
    """``|g0(p) - g1(p + f01(p))|`` in the images' units (float32)."""
    w1 = backward_warp(g1.astype(np.float32), f01)
    return np.abs(w1 - g0.astype(np.float32))


def linear_intermediate_flows(f01: np.ndarray, f10: np.ndarray,
                              t: float) -> tuple[np.ndarray, np.ndarray]:
    """Flows from time t to frames 0 and 1, from the bidirectional flows alone
    (linear-motion approximation, as in Super SloMo): ``(f_t0, f_t1)``."""
    ft0 = -(1 - t) * t * f01 + t * t * f10
    ft1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
    return ft0, ft1


def splat(values: np.ndarray, weights: np.ndarray, flow: np.ndarray,
          factor: float, bilinear: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Forward-splat ``values`` (HxWxC) from each pixel p to ``p + factor*flow(p)``.

    Bilinear (or nearest-pixel) splatting weighted by ``weights`` (HxW). Returns the
    weighted sums (HxWxC, float64) and the total weight per pixel (HxW); divide them to
    get the weighted mean.
    """
    h, w = flow.shape[:2]
    n = h * w
    xx, yy = _grid(h, w)
    tx = (xx + factor * flow[..., 0]).ravel()
    ty = (yy + factor * flow[..., 1]).ravel()
    wt = weights.ravel()
    vals = values.reshape(n, -1)
    c = vals.shape[1]
    sums = np.zeros((c, n))
    if not bilinear:
        xi = np.rint(tx).astype(np.int64)
        yi = np.rint(ty).astype(np.int64)
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        idx = (yi * w + xi)[ok]
        ww = wt[ok]
        for k in range(c):
            sums[k] = np.bincount(idx, ww * vals[ok, k], n)
        return sums.T.reshape(h, w, c), np.bincount(idx, ww, n).reshape(h, w)
    x0f = np.floor(tx)
    y0f = np.floor(ty)
    fx = tx - x0f
    fy = ty - y0f
    x0 = x0f.astype(np.int64)
    y0 = y0f.astype(np.int64)
    wsum = np.zeros(n)
    for dx, dy, bw in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                       (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi = x0 + dx
        yi = y0 + dy
        ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        idx = (yi * w + xi)[ok]
        ww = (bw * wt)[ok]
        wsum += np.bincount(idx, ww, n)
        for k in range(c):
            sums[k] += np.bincount(idx, ww * vals[ok, k], n)
    return sums.T.reshape(h, w, c), wsum.reshape(h, w)


def intermediate_flow(f01: np.ndarray, f10: np.ndarray, w0: np.ndarray, w1: np.ndarray,
                      t: float, bilinear: bool = True) -> np.ndarray:
    """The motion 0->1 of the pixel seen at each position of the frame at time t.

    Both flows are forward-splatted to time t (``f01`` from frame 0 by ``t``, ``-f10``
    from frame 1 by ``1-t``), weighted by the per-pixel confidences ``w0``/``w1`` (high
    where the source pixel is visible and matches in the other frame) and by closeness
    in time, so that where objects overlap the consistent (foreground) motion wins.
    Positions that no pixel reaches fall back to the linear approximation.
    Use it as: frame 0 sampled at ``p - t*u``, frame 1 at ``p + (1-t)*u``.
    """
    s0, ws0 = splat(f01, w0 * (1 - t), f01, t, bilinear)
    s1, ws1 = splat(-f10, w1 * t, f10, 1 - t, bilinear)
    ws = ws0 + ws1
    u = ((s0 + s1) / np.maximum(ws, 1e-12)[..., None]).astype(np.float32)
    hole = ws < 1e-6
    if hole.any():
        ft0, ft1 = linear_intermediate_flows(f01, f10, t)
        u[hole] = (ft1 - ft0)[hole]
    return u
