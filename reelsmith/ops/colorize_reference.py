"""Colour from a reference photo: a user-chosen colour photo of a similar scene lends its colours
to a black-and-white one (in the manner of Welsh, Ashikhmin and Mueller, "Transferring Color to
Greyscale Images", SIGGRAPH 2002).

1. Luminance remapping: the reference's L* is shifted and scaled to the target's mean and
   spread, so a brighter reference still matches by tone.
2. Texture-matched statistics: every target pixel is described by its L* and the standard
   deviation of L* around it (a 5x5 neighbourhood); it takes the chroma of the reference
   samples nearest in that space (a k-d tree over a jittered grid of samples; the k nearest
   are averaged, weighted by closeness).
3. The matched chroma is noisy pixel to pixel; it is smoothed edge-aware (a guided filter with
   the target's luminance as guide) and put on the full-resolution luminance with
   :func:`chroma.apply_chroma`.

Works at a working size of about :data:`WORK_PIXELS`. A grey reference has no colour to lend:
it is refused with an :class:`InputError`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.spatial import cKDTree

from reelsmith.errors import InputError
from reelsmith.ops.chroma import apply_chroma, check_rgb, guided_coefficients, is_grey, to_lab

WORK_PIXELS = 250_000
#: Reference samples matched against.
SAMPLES = 4096
#: Neighbours averaged per target pixel.
NEIGHBOURS = 8
#: Weight of the texture (local std) feature against luminance.
TEXTURE_WEIGHT = 1.0


def _work(image: np.ndarray, pixels: int) -> np.ndarray:
    h, w = image.shape[:2]
    if h * w <= pixels:
        return image
    s = math.sqrt(pixels / (h * w))
    return cv2.resize(image, (max(2, round(w * s)), max(2, round(h * s))),
                      interpolation=cv2.INTER_AREA)


def _features(luma: np.ndarray) -> np.ndarray:
    mean = cv2.blur(luma, (5, 5), borderType=cv2.BORDER_REFLECT)
    var = cv2.blur(luma * luma, (5, 5), borderType=cv2.BORDER_REFLECT) - mean * mean
    std = np.sqrt(np.maximum(var, 0.0))
    return np.stack([mean, TEXTURE_WEIGHT * std], -1).reshape(-1, 2)


def check_reference(reference: np.ndarray) -> None:
    """Raise InputError unless ``reference`` is a colour photo."""
    check_rgb(reference, "reference image")
    if is_grey(reference):
        raise InputError("The reference image is black and white (or evenly toned): it has no "
                         "colour to lend. Choose a colour photo of a similar scene.")


def reference_chroma(image: np.ndarray, reference: np.ndarray, *,
                     work_pixels: int = WORK_PIXELS, seed: int = 0) -> np.ndarray:
    """a*/b* planes (at working size) for ``image`` matched from ``reference``."""
    check_rgb(image)
    check_reference(reference)
    lab_t = to_lab(_work(image, work_pixels))
    lab_r = to_lab(_work(reference, work_pixels))
    lt, lr = lab_t[..., 0], lab_r[..., 0]
    # 1. luminance remapping
    lr = (lr - lr.mean()) * (lt.std() / max(float(lr.std()), 1e-3)) + lt.mean()
    # 2. texture-matched statistics
    feat_r = _features(lr.astype(np.float32))
    ab_r = lab_r[..., 1:].reshape(-1, 2)
    rng = np.random.default_rng(seed)
    hr, wr = lr.shape
    step = max(1.0, math.sqrt(hr * wr / SAMPLES))
    gy, gx = np.mgrid[0:hr:step, 0:wr:step]
    gy = np.clip(gy + rng.uniform(0, step, gy.shape), 0, hr - 1).astype(np.int64).ravel()
    gx = np.clip(gx + rng.uniform(0, step, gx.shape), 0, wr - 1).astype(np.int64).ravel()
    pick = gy * wr + gx
    # the reference's chroma at each sample, averaged over 3x3 so one noisy pixel does not decide
    ab_smooth = cv2.blur(lab_r[..., 1:], (3, 3)).reshape(-1, 2)[pick]
    tree = cKDTree(feat_r[pick])
    feat_t = _features(lt)
    k = min(NEIGHBOURS, len(pick))
    dist, nn = tree.query(feat_t, k=k, workers=1)
    if k == 1:
        dist, nn = dist[:, None], nn[:, None]
    wts = 1.0 / (dist + 0.5)
    ab = (ab_smooth[nn] * wts[..., None]).sum(1) / wts.sum(1)[:, None]
    del ab_r
    ab = ab.reshape(lt.shape[0], lt.shape[1], 2).astype(np.float32)
    # 3. edge-aware smoothing with the target's luminance as guide
    radius = max(2, round(0.01 * math.hypot(*lt.shape)))
    a, b = guided_coefficients(lt, ab, radius, 25.0)
    return a * lt[..., None] + b


def colorize_from_reference(image: np.ndarray, reference: np.ndarray, *,
                            strength: float = 1.0, work_pixels: int = WORK_PIXELS) -> np.ndarray:
    """``image`` (HxWx3 uint8/uint16; only its luminance is used) coloured from a colour
    ``reference`` photo of a similar scene; same size, dtype and luminance as ``image``.
    Raises InputError for a grey reference."""
    ab = reference_chroma(image, reference, work_pixels=work_pixels)
    return apply_chroma(image, ab, strength=strength)
