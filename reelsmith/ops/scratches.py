"""Defects of old photos and film frames: scratches and dust, found and repaired.

Detection works on the luminance, for bright and dark defects alike (a dark one is a bright
one of the inverted picture):

1. **Thin-structure residue.** A morphological top-hat with a disk wider than any defect
   (``image - opening``) keeps what is both thin and brighter than its surroundings: scratches,
   specks, and also real fine detail. Its threshold is a contrast floor plus a multiple of the
   picture's noise level (estimated once, from the median absolute deviation of a high-pass),
   so film grain does not become defects.
2. **Scratches** are the residue that is long: the candidate mask (dilated one pixel so a line
   tolerates the angle steps) is opened with line structuring elements at 12 orientations; what
   survives in any orientation lies on a straight run at least ``min_length`` long (a gentle
   curve is a chain of such runs). Components are then gated by length.
3. **Dust** is the residue left over in small compact components (area and extent gates). Real
   texture (eyes, text, fabric) makes many residue pixels close together and sits on a busy
   background; a speck is isolated on a quiet one. So a speck is kept only when its contrast
   beats the local activity of the defect-free background, and few other candidates crowd
   around it. False positives on clean photos are what these gates buy down (see the benchmark).

Repair inpaints the (slightly grown) mask with OpenCV's Telea method, per channel for 16-bit
pictures so their depth is kept. The defects are thin, so the fill is short-range.

Memory: the picture is processed in tiles (1024 px plus a margin larger than every kernel), so
the working arrays are bounded by the tile size whatever the scan's size; the noise level is
estimated on a bounded sample of tiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from reelsmith.errors import InputError

#: Orientations tried by the line detector (every 15 degrees).
ANGLES = 12
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


def _line(length: int, angle: float) -> np.ndarray:
    k = np.zeros((length, length), np.uint8)
    c = (length - 1) / 2.0
    dx, dy = np.cos(angle) * c, np.sin(angle) * c
    cv2.line(k, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1, 1)
    return k


@dataclass(frozen=True)
class _Gates:
    max_width: int
    min_length: int
    max_speck: int
    k_sigma: float
    floor: float
    texture: float
    busy: float
    line_floor: float


def _gates(h: int, w: int, sensitivity: float) -> _Gates:
    # Kernel sizes follow the picture size: a scratch on a 4000 px scan is wider than on a
    # 512 px one. Reference: 512 px on the short side.
    s = max(min(h, w) / 512.0, 1.0)
    return _Gates(max_width=int(round(4 * s)), min_length=int(round(31 * s)) | 1,
                  max_speck=int(round(12 * s)),
                  k_sigma=6.0 - 3.0 * sensitivity, floor=0.10 - 0.06 * sensitivity,
                  texture=8.0 - 4.0 * sensitivity, busy=3.0 - 1.0 * sensitivity,
                  line_floor=0.24 - 0.16 * sensitivity)


def _polarity(lum: np.ndarray, g: _Gates, sigma: float, scratches: bool,
              dust: bool) -> tuple[np.ndarray, np.ndarray]:
    """(scratch, dust) masks of the bright defects of ``lum``."""
    d = max(2 * g.max_width + 3, g.max_speck + 4)
    bg = cv2.morphologyEx(lum, cv2.MORPH_OPEN, _disk(d))
    residue = lum - bg
    thr = g.floor + g.k_sigma * sigma
    # Texture level: the mean residue around a pixel. A defect is a few pixels of a window;
    # grass, fabric or text fill it.
    win = 2 * g.min_length + 1
    texture = cv2.blur(residue, (win, win))
    cand = (residue > thr).astype(np.uint8)
    weak = (residue > 0.5 * thr).astype(np.uint8)
    scratch = np.zeros_like(cand)
    if scratches and cand.any():
        # Grey-level line openings of the residue (dilated one pixel so a thin line survives
        # the 15-degree steps): what stays high lies on a straight run of min_length.
        grown = cv2.dilate(residue, _disk(3))
        lines = np.zeros_like(residue)
        for i in range(ANGLES):
            np.maximum(lines, cv2.morphologyEx(grown, cv2.MORPH_OPEN,
                                               _line(g.min_length, np.pi * i / ANGLES)), out=lines)
        seed = (cand & (lines > g.line_floor) & (lines > 0.5 * g.texture * texture)).astype(np.uint8)
        n, lab, stats, _ = cv2.connectedComponentsWithStats(seed, connectivity=8)
        keep = np.zeros(n, bool)
        for i in range(1, n):
            x, y, bw, bh, area = stats[i]
            keep[i] = float(np.hypot(bw, bh)) >= g.min_length
        scratch = keep[lab].astype(np.uint8)
        # Hysteresis: the defect's softer edge, reached from the line through weaker residue.
        for _ in range(2):
            scratch = cv2.dilate(scratch, _disk(3)) & weak
    specks = np.zeros_like(cand)
    if dust:
        rest = cand & (1 - cv2.dilate(scratch, _disk(5)))
        n, lab, stats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
        if n > 1:
            sw = 4 * g.max_speck + 1
            mean = cv2.blur(bg, (sw, sw))
            activity = np.sqrt(np.maximum(cv2.blur(bg * bg, (sw, sw)) - mean * mean, 0))
            peak = np.zeros(n, np.float32)
            np.maximum.at(peak, lab.ravel(), residue.ravel())
            keep = np.zeros(n, bool)
            for i in range(1, n):
                x, y, bw, bh, area = stats[i]
                if max(bw, bh) > g.max_speck or area > g.max_speck * g.max_speck:
                    continue
                cy, cx = y + bh // 2, x + bw // 2
                if peak[i] > g.texture * texture[cy, cx] + g.busy * activity[cy, cx]:
                    keep[i] = True
            specks = keep[lab].astype(np.uint8)
            specks = cv2.dilate(specks, _disk(3)) & (weak | specks)
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
                for t in (tile, 1.0 - tile):
                    s, d = _polarity(t, g, sigma, scratches, dust)
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
