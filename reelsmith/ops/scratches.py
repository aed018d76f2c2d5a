"""Defects of old photos and film frames: scratches and dust, found and repaired.

Detection works on the luminance, for bright and dark defects alike. Every threshold is a
contrast floor plus multiples of the picture's noise level (estimated once, from the median
absolute deviation of a high-pass) and of the LOCAL texture level (the median absolute
high-pass over 16 px blocks, so a defect crossing a block barely moves it): grass, fur and
fabric raise the bar where they are, a clear sky does not.

1. **Scratches** are thin, and differ from BOTH sides of themselves, which are alike. For 12
   orientations and two defect widths, oriented kernels compare a 15 px line (the mean along a
   scratch, which is nearly constant along its length) with 2 px bands on each side just clear
   of it, and each band with the ground beyond it. The two-sided contrast (the smaller of the
   two centre-minus-side differences, signed for bright or dark) is docked by the largest of:
   the difference between the two sides (a real edge or a stripe beside a shadow differs on one
   side only) and the side-to-beyond differences (a highlight inside a rod has the rod beside
   it). Pixels above half the threshold are grouped per 45-degree window of their best
   orientation (so crossing scratches, and a scratch and the texture it crosses, stay apart;
   a gentle curve stays inside one window); a group is a scratch when it is long (moment
   length >= 40 px at 768 px), straight (small spread across), thin, and has enough pixels
   above the full threshold.
2. **Dust** is a compact blob brighter than the brightest of a ring around it, or darker than
   the darkest (so a line, which crosses the ring twice, and an edge are not dust), for radii
   1-3 px; components wider than a speck are dropped. The mask is the speck's extent: pixels
   near a centre that differ from a local median by half the speck's own peak contrast.

Sensitivity scales every threshold (0.5 is the tuned setting; higher finds fainter defects).
The thresholds were tuned on scikit-image's camera, astronaut and coffee only; the benchmark
reports a held-out set of photos and video frames as well.

Repair inpaints the (slightly grown) mask with OpenCV's Telea method, per channel for 16-bit
pictures so their depth is kept. The defects are thin, so the fill is short-range.

Memory: the picture is processed in tiles (1024 px plus a margin larger than every kernel), so
the working arrays are bounded by the tile size whatever the scan's size; the noise level is
estimated on a bounded sample of tiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from reelsmith.errors import InputError

#: Orientations tried by the line detector (every 15 degrees).
LINE_ANGLES = 12
#: How much a difference between the two sides of a line counts against it.
SIDE_BALANCE = 1.0
#: Tile side for detection and the margin added on each side (beyond the longest kernel).
TILE = 1024
MARGIN = 64


@dataclass
class DefectMask:
    """What :func:`detect_defects` found. ``mask`` is the union (bool HxW) of ``scratch`` and
    ``dust``; counts are connected components; ``noise_sigma`` is on a 0..1 scale."""

    scratch: np.ndarray
    dust: np.ndarray
    scratches: int = 0
    specks: int = 0
    noise_sigma: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def mask(self) -> np.ndarray:
        return self.scratch | self.dust

    @property
    def area_percent(self) -> float:
        return float(100.0 * self.mask.mean()) if self.mask.size else 0.0

    def image(self) -> np.ndarray:
        """The mask as an 8-bit picture to show a user: scratches white, dust grey."""
        out = np.zeros(self.scratch.shape, np.uint8)
        out[self.dust] = 160
        out[self.scratch] = 255
        return out

    def describe(self) -> dict[str, Any]:
        return {"scratches": self.scratches, "specks": self.specks,
                "area_percent": round(self.area_percent, 4),
                "noise_sigma": round(self.noise_sigma * 255.0, 3), **self.settings}


def luminance(image: np.ndarray) -> np.ndarray:
    """HxW float32 luminance in 0..1 (Rec. 601 weights) of an HxW[xC] uint8/uint16/float image."""
    a = np.asarray(image)
    scale = 65535.0 if a.dtype == np.uint16 else 255.0 if a.dtype == np.uint8 else 1.0
    a = a.astype(np.float32) / scale
    if a.ndim == 3 and a.shape[2] >= 3:
        return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114
    return a[..., 0] if a.ndim == 3 else a


def noise_sigma(lum: np.ndarray, *, max_pixels: int = 4_000_000) -> float:
    """The standard deviation of the picture's noise (0..1 scale), from the median absolute
    value of Immerkaer's Laplacian-difference high-pass (the kernel's norm is 6; 0.6745 turns a
    median absolute deviation into a sigma). Edges are excluded by ignoring the top 10%."""
    a = np.asarray(lum, np.float32)
    step = int(np.ceil(np.sqrt(a.size / max_pixels))) if a.size > max_pixels else 1
    if step > 1:  # a bounded sample of full-resolution tiles (the noise is per pixel)
        th, tw = max(a.shape[0] // step, 64), max(a.shape[1] // step, 64)
        a = a[: th, : tw]
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    hp = np.abs(cv2.filter2D(a, -1, k, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1])
    if hp.size == 0:
        return 0.0
    flat = hp[hp <= np.quantile(hp, 0.9)]
    return float(np.median(flat) / 0.6745 / 6.0) if flat.size else 0.0


def _disk(d: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))


def _ring(inner: float, outer: float) -> np.ndarray:
    n = 2 * int(np.ceil(outer)) + 1
    c = n // 2
    yy, xx = np.mgrid[:n, :n] - c
    r = np.hypot(yy, xx)
    return ((r >= inner) & (r <= outer)).astype(np.uint8)


def _segment(n: int, length: float, angle: float, offset: float) -> np.ndarray:
    """An n x n kernel: an anti-aliased 1 px line of ``length`` through the centre at ``angle``,
    shifted ``offset`` px along its normal, normalised to sum 1."""
    img = np.zeros((n, n), np.uint8)
    c = (n - 1) / 2.0
    ux, uy = np.cos(angle), np.sin(angle)
    ox, oy = -uy * offset, ux * offset
    half = (length - 1) / 2.0
    p0 = (int(round((c + ox - ux * half) * 16)), int(round((c + oy - uy * half) * 16)))
    p1 = (int(round((c + ox + ux * half) * 16)), int(round((c + oy + uy * half) * 16)))
    cv2.line(img, p0, p1, 255, 1, cv2.LINE_AA, 4)
    k = img.astype(np.float32)
    return k / max(float(k.sum()), 1e-6)


@dataclass(frozen=True)
class _Gates:
    scale: float
    max_width: int
    min_length: int
    max_speck: int
    k_sigma: float
    floor: float
    texture: float


def _gates(h: int, w: int, sensitivity: float) -> _Gates:
    # Kernel sizes follow the picture size: a scratch on a 4000 px scan is wider than on a
    # 512 px one. Reference: 768 px on the short side (below it, the reference sizes).
    s = max(min(h, w) / 768.0, 1.0)
    m = 1.5 - sensitivity  # sensitivity 0.5 -> the thresholds as tuned
    return _Gates(scale=s, max_width=int(round(4 * s)), min_length=int(round(40 * s)),
                  max_speck=int(round(6 * s)), k_sigma=3.0 * m, floor=0.016 * m, texture=4.0 * m)


@lru_cache(maxsize=8)
def _line_bank(scale: float) -> list[tuple[np.ndarray, ...]]:
    """Per orientation and per defect width: (centre - side+, centre - side-, side+ - far+,
    side- - far-) kernels, with a 1 px line of 15 px (scaled) as the centre, 2 px bands beside
    it just clear of the defect as the sides, and bands as far again beyond them."""
    length = 15.0 * scale
    bank = []
    for d in (2.0 * scale, 3.5 * scale):
        band = max(2, int(round(1.5 * scale)))
        n = int(np.ceil(max(length, 2 * (d + 3 * band + 2)))) | 1
        n += 2
        for i in range(LINE_ANGLES):
            a = np.pi * i / LINE_ANGLES
            c = _segment(n, length, a, 0.0)
            plus = sum(_segment(n, length, a, d + j) for j in range(band)) / band
            minus = sum(_segment(n, length, a, -d - j) for j in range(band)) / band
            far = range(int(d) + band + 1, int(d) + band + 1 + 2 * band)
            fplus = sum(_segment(n, length, a, j) for j in far) / len(far)
            fminus = sum(_segment(n, length, a, -j) for j in far) / len(far)
            bank.append((c - plus, c - minus, plus - fplus, minus - fminus))
    return bank


def _texture(lum: np.ndarray, block: int) -> np.ndarray:
    """The local texture level: the median absolute high-pass over ``block``-px blocks (a
    median, so a defect crossing a block barely moves it), interpolated back to full size."""
    hp = np.abs(lum - cv2.GaussianBlur(lum, (0, 0), 1.5))
    h, w = hp.shape
    bh, bw = -(-h // block), -(-w // block)
    pad = np.pad(hp, ((0, bh * block - h), (0, bw * block - w)), mode="reflect")
    med = np.median(pad.reshape(bh, block, bw, block).transpose(0, 2, 1, 3).reshape(bh, bw, -1), axis=2)
    med = cv2.GaussianBlur(med.astype(np.float32), (3, 3), 0)
    return cv2.resize(med, (bw * block, bh * block), interpolation=cv2.INTER_LINEAR)[:h, :w]


def _moments(lab: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per component: pixel count, length (sqrt(12 * major variance), the length of a segment
    with that spread) and the spread across it (minor standard deviation)."""
    ys, xs = np.nonzero(lab)
    lb = lab[ys, xs]
    cnt = np.bincount(lb, minlength=n).astype(np.float64)
    c = np.maximum(cnt, 1)
    mx, my = np.bincount(lb, xs, n) / c, np.bincount(lb, ys, n) / c
    vxx = np.bincount(lb, xs.astype(np.float64) ** 2, n) / c - mx * mx
    vyy = np.bincount(lb, ys.astype(np.float64) ** 2, n) / c - my * my
    vxy = np.bincount(lb, xs.astype(np.float64) * ys, n) / c - mx * my
    tr, det = vxx + vyy, vxx * vyy - vxy * vxy
    disc = np.sqrt(np.maximum(tr * tr / 4 - det, 0))
    major, minor = tr / 2 + disc, np.maximum(tr / 2 - disc, 0)
    return cnt, np.sqrt(12 * major), np.sqrt(minor)


def _tile(lum: np.ndarray, g: _Gates, sigma: float, scratches: bool,
          dust: bool) -> tuple[np.ndarray, np.ndarray]:
    """(scratch, dust) masks of one tile, both polarities."""
    ls = cv2.GaussianBlur(lum, (0, 0), 0.7)
    tex = np.maximum(_texture(lum, max(16, int(round(16 * g.scale)))), 0.5 * sigma)
    thr = g.floor + g.k_sigma * sigma + g.texture * tex
    h, w = lum.shape
    scratch = np.zeros((h, w), np.uint8)
    if scratches:
        line = np.full((h, w), -1.0, np.float32)
        angle = np.zeros((h, w), np.uint8)
        for i, kernels in enumerate(_line_bank(g.scale)):
            a, b, e, f = (cv2.filter2D(ls, -1, k, borderType=cv2.BORDER_REFLECT) for k in kernels)
            # Two-sided: brighter than BOTH sides (bright) or darker than both (dark), and the
            # two sides alike (a scratch lies ON a background; a real thin object or a stripe
            # next to a shadow has different things on its two sides), and each side like the
            # ground beyond it (a highlight inside a rod or a wire has the rod beside it).
            two = (np.maximum(np.minimum(a, b), -np.maximum(a, b))
                   - SIDE_BALANCE * np.maximum(np.abs(a - b), np.maximum(np.abs(e), np.abs(f))))
            better = two > line
            line[better], angle[better] = two[better], i % LINE_ANGLES
        weak = line > 0.5 * thr
        strong_px = line > thr
        for i in range(LINE_ANGLES):
            # Group by orientation (a 45-degree window) so crossing scratches, and a scratch
            # crossing texture, are separate components; a gentle curve stays in one window.
            near = (angle == i) | (angle == (i + 1) % LINE_ANGLES) | (angle == (i - 1) % LINE_ANGLES)
            n, lab = cv2.connectedComponents((weak & near).astype(np.uint8), connectivity=8)
            if n < 2:
                continue
            cnt, length, spread = _moments(lab, n)
            strong = np.bincount(lab.ravel(), strong_px.ravel(), n)
            ok = ((length >= g.min_length) & (spread <= np.maximum(1.5 * g.max_width, 0.05 * length))
                  & (cnt <= length * (g.max_width + 2)) & (strong >= 0.5 * g.min_length))
            ok[0] = False
            scratch |= ok[lab].astype(np.uint8)
    specks = np.zeros((h, w), np.uint8)
    if dust:
        best = np.zeros((h, w), np.float32)
        radius = np.zeros((h, w), np.uint8)
        for r in range(1, max(2, g.max_speck // 2) + 1):
            centre = cv2.GaussianBlur(lum, (0, 0), 0.35 * r) if r > 1 else ls
            ring = _ring(r + 1.0, r + 2.5)
            hi = cv2.dilate(ls, ring)  # the brightest of the ring around
            lo = cv2.erode(ls, ring)  # the darkest
            score = np.maximum(centre - hi, lo - centre)
            better = score > best
            best[better], radius[better] = score[better], r
        cand = (best > thr).astype(np.uint8) & (1 - cv2.dilate(scratch, _disk(5)))
        n, lab, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
        if n > 1:
            keep = (stats[:, cv2.CC_STAT_WIDTH] <= g.max_speck + 2) & \
                   (stats[:, cv2.CC_STAT_HEIGHT] <= g.max_speck + 2)
            keep[0] = False
            kept = keep[lab]
            for r in range(1, max(2, g.max_speck // 2) + 1):
                seed = (kept & (radius == r)).astype(np.uint8)
                if seed.any():
                    specks |= cv2.dilate(seed, _disk(2 * r + 1))
            # The speck's extent: the pixels near a centre that stand out from the ground (a
            # median over twice the largest speck, which a speck does not move).
            k = (2 * g.max_speck + 3) | 1
            ground = cv2.medianBlur(np.clip(ls * 255 + 0.5, 0, 255).astype(np.uint8), k)
            dev = np.abs(lum - ground.astype(np.float32) / 255.0)
            n, lab = cv2.connectedComponents(specks, connectivity=8)
            peak = np.zeros(n, np.float32)
            np.maximum.at(peak, lab.ravel(), dev.ravel())
            # Half the speck's own peak contrast: its soft rim is kept, the ground around is not.
            specks &= (kept | (dev > np.maximum(0.5 * peak[lab], 0.35 * thr))).astype(np.uint8)
    return scratch.astype(bool), specks.astype(bool)


def _check(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise InputError(f"Defect detection needs an HxW or HxWx3 picture, not shape {a.shape}.")
    if a.dtype not in (np.uint8, np.uint16):
        raise InputError(f"Defect detection needs 8- or 16-bit pixels, not {a.dtype}.")
    if min(a.shape[:2]) < 16:
        raise InputError(f"The picture ({a.shape[1]}x{a.shape[0]}) is too small to look for defects.")
    return a


def detect_defects(image: np.ndarray, *, scratches: bool = True, dust: bool = True,
                   sensitivity: float = 0.5) -> DefectMask:
    """Find scratches and dust in ``image`` (HxW or HxWxC, uint8 or uint16).

    ``sensitivity`` 0..1: higher finds fainter defects and risks more real detail.
    Raises :class:`InputError` for a picture that is not 8/16-bit HxW[x3], smaller than 16 px,
    or a sensitivity outside [0, 1].
    """
    a = _check(image)
    if not 0.0 <= sensitivity <= 1.0:
        raise InputError(f"Defect sensitivity must be within [0, 1], got {sensitivity}.")
    lum = luminance(a)
    h, w = lum.shape
    g = _gates(h, w, sensitivity)
    sigma = noise_sigma(lum)
    scratch = np.zeros((h, w), bool)
    speck = np.zeros((h, w), bool)
    if scratches or dust:
        for y0 in range(0, h, TILE):
            for x0 in range(0, w, TILE):
                ya, xa = max(y0 - MARGIN, 0), max(x0 - MARGIN, 0)
                yb, xb = min(y0 + TILE + MARGIN, h), min(x0 + TILE + MARGIN, w)
                tile = lum[ya:yb, xa:xb]
                inner = (slice(y0 - ya, y0 - ya + min(TILE, h - y0)),
                         slice(x0 - xa, x0 - xa + min(TILE, w - x0)))
                s, d = _tile(tile, g, sigma, scratches, dust)
                scratch[y0:y0 + TILE, x0:x0 + TILE] |= s[inner]
                speck[y0:y0 + TILE, x0:x0 + TILE] |= d[inner]
    speck &= ~scratch
    n_scratch = cv2.connectedComponents(scratch.astype(np.uint8), connectivity=8)[0] - 1
    n_speck = cv2.connectedComponents(speck.astype(np.uint8), connectivity=8)[0] - 1
    settings = {"sensitivity": sensitivity, "max_width_px": g.max_width,
                "min_length_px": g.min_length, "max_speck_px": g.max_speck}
    return DefectMask(scratch, speck, n_scratch, n_speck, sigma, settings)


def repair_defects(image: np.ndarray, mask: np.ndarray | DefectMask, *, radius: int = 3) -> np.ndarray:
    """``image`` with the pixels under ``mask`` (grown by one pixel) filled in from their
    surroundings (Telea inpainting). Same shape and dtype as ``image``; alpha is kept as is.
    Raises :class:`InputError` when the mask does not match the picture."""
    a = _check(image)
    m = mask.mask if isinstance(mask, DefectMask) else np.asarray(mask).astype(bool)
    if m.shape != a.shape[:2]:
        raise InputError(f"The defect mask is {m.shape[1]}x{m.shape[0]} but the picture is "
                         f"{a.shape[1]}x{a.shape[0]}: they must match.")
    if not m.any():
        return a.copy()
    grown = cv2.dilate(m.astype(np.uint8), _disk(3))
    if a.ndim == 2:
        return cv2.inpaint(a, grown, radius, cv2.INPAINT_TELEA)
    colour = a[..., :3] if a.shape[2] >= 3 else a
    if a.dtype == np.uint8 and colour.shape[2] == 3:
        fixed = cv2.inpaint(np.ascontiguousarray(colour), grown, radius, cv2.INPAINT_TELEA)
    else:
        fixed = np.dstack([cv2.inpaint(np.ascontiguousarray(colour[..., c]), grown, radius,
                                       cv2.INPAINT_TELEA) for c in range(colour.shape[2])])
    if a.shape[2] == 4:
        fixed = np.dstack([fixed, a[..., 3]])
    return fixed.astype(a.dtype)
