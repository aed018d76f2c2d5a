"""Film-grain-aware denoise and JPEG deblocking for scanned photos.

Denoise: the noise level is estimated first (:func:`reelsmith.ops.scratches.noise_sigma`, a
median absolute deviation of a high-pass, so edges do not count as noise); non-local means then
runs in L*a*b* with a filter strength proportional to that level -- the luminance gently, the
chroma (where scanner and film-dye noise show as colour blotches) harder. ``keep_grain`` mixes
a share of the original luminance back so a film photo does not turn plastic; 0 removes all
that the filter can. A picture whose noise is below a floor is returned as it is: there is
nothing to remove, and smoothing would only cost detail.

Deblock: the blockiness of a JPEG is the excess of the luminance steps across the 8x8 grid
lines over the steps beside them. When it is present, the pixels next to each grid line are
smoothed across it, in proportion to the measured excess and only where the local step is
small (a real edge on a grid line is kept).

16-bit pictures are processed in float and returned in 16 bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reelsmith.errors import InputError
from reelsmith.ops.scratches import luminance, noise_sigma

#: Below this noise level (0..255 scale) denoise leaves the picture alone.
NOISE_FLOOR = 2.0
#: Blockiness (ratio of grid steps to other steps) from which deblocking acts.
BLOCKY = 1.15


@dataclass(frozen=True)
class DenoiseReport:
    noise_before: float  # 0..255 scale
    noise_after: float
    applied: bool


def _to_float(image: np.ndarray) -> tuple[np.ndarray, float]:
    if image.dtype not in (np.uint8, np.uint16) or image.ndim != 3 or image.shape[2] < 3:
        raise InputError(f"Denoise needs an HxWx3 8- or 16-bit picture, not {image.dtype} {image.shape}.")
    peak = 65535.0 if image.dtype == np.uint16 else 255.0
    return image[..., :3].astype(np.float32) / peak, peak


def _back(rgb: np.ndarray, image: np.ndarray, peak: float) -> np.ndarray:
    out = np.clip(np.rint(rgb * peak), 0, peak).astype(image.dtype)
    return np.dstack([out, image[..., 3:]]) if image.shape[2] == 4 else out


def denoise_photo(image: np.ndarray, *, strength: float = 1.0,
                  keep_grain: float = 0.25) -> tuple[np.ndarray, DenoiseReport]:
    """``image`` (HxWx3|4 uint8/uint16) with its noise removed in proportion to the measured
    level; ``strength`` scales the filter (0..3), ``keep_grain`` (0..1) keeps that share of the
    luminance noise. Raises :class:`InputError` for bad arguments."""
    if not 0.0 <= strength <= 3.0:
        raise InputError(f"Denoise strength must be within [0, 3], got {strength}.")
    if not 0.0 <= keep_grain <= 1.0:
        raise InputError(f"keep_grain must be within [0, 1], got {keep_grain}.")
    rgb, peak = _to_float(image)
    before = noise_sigma(luminance(image)) * 255.0
    if before < NOISE_FLOOR or strength == 0.0:
        return image.copy(), DenoiseReport(round(before, 3), round(before, 3), False)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)  # L 0..100, a/b about -128..127
    # fastNlMeans works on 8-bit: L scaled to 0..255 and a/b shifted; the detail below one
    # 8-bit step is restored from the float original's low-contrast residue afterwards.
    l8 = np.clip(lab[..., 0] * 2.55, 0, 255).astype(np.uint8)
    ab8 = np.clip(lab[..., 1:] + 128.0, 0, 255).astype(np.uint8)
    h_l = float(np.clip(before * 1.1 * strength, 1.0, 40.0))
    h_c = float(np.clip(before * 2.0 * strength, 2.0, 60.0))
    l_d = cv2.fastNlMeansDenoising(l8, None, h=h_l, templateWindowSize=7, searchWindowSize=21)
    ab_d = np.dstack([cv2.fastNlMeansDenoising(np.ascontiguousarray(ab8[..., i]), None, h=h_c,
                                               templateWindowSize=7, searchWindowSize=21)
                      for i in (0, 1)])
    l_f = l_d.astype(np.float32) / 2.55
    l_f += (lab[..., 0] - l8.astype(np.float32) / 2.55)  # the quantisation residue back
    out_lab = np.dstack([l_f * (1 - keep_grain) + lab[..., 0] * keep_grain,
                         ab_d.astype(np.float32) - 128.0]).astype(np.float32)
    out = cv2.cvtColor(out_lab, cv2.COLOR_LAB2RGB)
    result = _back(out, image, peak)
    after = noise_sigma(luminance(result)) * 255.0
    return result, DenoiseReport(round(before, 3), round(after, 3), True)


def blockiness(image: np.ndarray) -> float:
    """Mean absolute luminance step across the 8x8 grid lines over the mean step elsewhere
    (about 1.0 for a picture without blocks; a q=10 JPEG is well above)."""
    lum = luminance(image)
    dx = np.abs(np.diff(lum, axis=1))
    dy = np.abs(np.diff(lum, axis=0))
    on_x, on_y = dx[:, 7::8], dy[7::8, :]
    off_x = (dx.sum() - on_x.sum()) / max(dx.size - on_x.size, 1)
    off_y = (dy.sum() - on_y.sum()) / max(dy.size - on_y.size, 1)
    on = (on_x.mean() if on_x.size else 0.0) + (on_y.mean() if on_y.size else 0.0)
    off = off_x + off_y
    return float(on / off) if off > 1e-9 else 1.0


def deblock(image: np.ndarray, *, force: bool = False) -> tuple[np.ndarray, float, float]:
    """Smooth across the 8x8 grid where it shows; returns (image, blockiness before, after).

    Without ``force`` a picture below the blockiness threshold is returned unchanged."""
    rgb, peak = _to_float(image)
    before = blockiness(image)
    if before < BLOCKY and not force:
        return image.copy(), round(before, 3), round(before, 3)
    out = rgb.copy()
    lum = luminance(image)
    # Edge guard: a grid-line step larger than this (a real edge) is left alone.
    edge = float(np.quantile(np.abs(np.diff(lum, axis=1)), 0.95)) * 2.0 + 1e-3
    for axis in (1, 0):
        o = np.moveaxis(out, axis, 0)  # grid lines along axis 0 of the view
        lv = np.moveaxis(lum, axis, 0)
        n = o.shape[0]
        for b in range(8, n - 1, 8):
            step = np.abs(lv[b] - lv[b - 1])
            w = np.clip(1.0 - step / edge, 0.0, 1.0)[..., None]
            # Spread the step over 4 pixels (2 each side): a linear ramp between the outer ones.
            a0, a1, b0, b1 = o[b - 2].copy(), o[b - 1].copy(), o[b].copy(), o[b + 1].copy()
            ramp = [a0 + (b1 - a0) * t for t in (1 / 3, 2 / 3)]
            o[b - 1] = a1 + w * (ramp[0] - a1)
            o[b] = b0 + w * (ramp[1] - b0)
    result = _back(out, image, peak)
    return result, round(before, 3), round(blockiness(result), 3)
