"""Colour transfer in L*a*b*: make a region of one image have the colour statistics of a
region of another (Reinhard et al.'s mean/std matching, per channel), and the skin ring, the
band just inside a face mask's edge whose colour must match the surroundings for a swapped or
restored face not to show a seam.

Lab is computed from float RGB (L in 0..100, a/b around 0) so nothing is lost to the 8-bit Lab
quantisation; the per-channel gain is bounded so a flat region (tiny std) cannot blow up.
"""

from __future__ import annotations

import cv2
import numpy as np

from reelsmith.errors import InputError

#: Bounds of the std ratio applied per channel.
_MAX_GAIN = 3.0


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _rgb(lab: np.ndarray) -> np.ndarray:
    rgb = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def _stats(lab: np.ndarray, mask: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    m = np.asarray(mask, dtype=np.float32)
    if m.shape != lab.shape[:2]:
        raise InputError(f"{name} is {m.shape} but its image is {lab.shape[:2]}: they must match.")
    w = np.clip(m, 0, 1).reshape(-1)
    total = float(w.sum())
    if total < 1.0:
        return None
    px = lab.reshape(-1, 3)
    mean = (px * w[:, None]).sum(0) / total
    std = np.sqrt(((px - mean) ** 2 * w[:, None]).sum(0) / total)
    return mean, std


def lab_transfer(src: np.ndarray, ref: np.ndarray, *, src_mask: np.ndarray, ref_mask: np.ndarray,
                 strength: float = 1.0) -> np.ndarray:
    """``src`` recoloured so that its pixels under ``src_mask`` get the L*a*b* mean and standard
    deviation of ``ref``'s pixels under ``ref_mask`` (masks: float HxW weights in [0, 1]). The
    transform is estimated on the masked pixels and applied to the whole of ``src`` (callers
    blend with their own mask); ``strength`` 0..1 moves from ``src`` to the full transfer.
    Images are HxWx3 uint8 RGB and may differ in size. An empty mask leaves ``src`` unchanged
    (a copy). Raises :class:`InputError` on mismatched shapes or a strength outside [0, 1]."""
    for name, im in (("src", src), ("ref", ref)):
        if im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
            raise InputError(f"Colour transfer needs HxWx3 uint8 images; {name} is {im.dtype} {im.shape}.")
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"Colour transfer strength must be within [0, 1], got {strength}.")
    lab_s = _lab(src)
    lab_r = _lab(ref)
    s = _stats(lab_s, src_mask, "src_mask")
    r = _stats(lab_r, ref_mask, "ref_mask")
    if s is None or r is None or strength == 0.0:
        return src.copy()
    (mu_s, sd_s), (mu_r, sd_r) = s, r
    gain = np.clip(sd_r / np.maximum(sd_s, 1e-3), 1.0 / _MAX_GAIN, _MAX_GAIN)
    moved = (lab_s - mu_s) * gain + mu_r
    return _rgb(lab_s + strength * (moved - lab_s))


def skin_ring(mask: np.ndarray, width: float) -> np.ndarray:
    """The band of ``mask`` (float HxW; inside where > 0.5) within ``width`` px of its edge, as a
    float32 0/1 mask. An image-border edge counts as an edge too."""
    if width <= 0:
        raise InputError(f"The skin ring width must be positive, got {width}.")
    inside = (np.asarray(mask, dtype=np.float32) > 0.5).astype(np.uint8)
    if not inside.any():
        return np.zeros(inside.shape, np.float32)
    padded = cv2.copyMakeBorder(inside, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    return ((dist > 0) & (dist <= width)).astype(np.float32)
