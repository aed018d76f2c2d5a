"""Luminance and chroma of photos in CIE L*a*b*, and putting predicted chroma back.

Every colourisation in reelsmith predicts colour at a small size (a model's input, the hint
solver's working size, a video's propagation size) and keeps the photo's own luminance at full
resolution: :func:`apply_chroma` upsamples the a*/b* planes edge-aware, guided by the
full-resolution L* (a fast guided filter: He, Sun and Tang, "Guided Image Filtering", 2010, and
its subsampled variant, "Fast Guided Filter", 2015), so colour edges snap to the original's edges
and detail and sharpness stay the original's.

Lab is OpenCV's float Lab (L in 0..100, a/b about -128..127) computed from float RGB, so 16-bit
inputs keep their depth: every function returns the dtype it was given (uint8 or uint16).

:func:`colourfulness` (Hasler and Süsstrunk, 2003) reports how colourful a picture is;
:func:`is_grey` decides whether a photo is monochrome -- grey, or toned (sepia, cyanotype):
its chroma is explained by its luminance alone -- which is what "a colour photo given to
colorize is detected" checks.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from reelsmith.errors import InputError

#: Pixels the global measures (colourfulness, greyness) are computed on.
_MEASURE_PIXELS = 262_144
#: Residual chroma (Lab units, RMS) below which a photo counts as monochrome.
GREY_RESIDUAL = 3.0


def check_rgb(image: np.ndarray, what: str = "image") -> None:
    """Raise :class:`InputError` unless ``image`` is HxWx3 uint8 or uint16."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise InputError(f"The {what} must be an HxWx3 RGB array; got shape {shape}.")
    if image.dtype not in (np.uint8, np.uint16):
        raise InputError(f"The {what} must be uint8 or uint16; it is {image.dtype}.")


def _scale(dtype: np.dtype) -> float:
    return 65535.0 if dtype == np.uint16 else 255.0


def to_lab(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8/uint16 RGB -> HxWx3 float32 Lab (L 0..100)."""
    check_rgb(image)
    return cv2.cvtColor(image.astype(np.float32) / _scale(image.dtype), cv2.COLOR_RGB2LAB)


def from_lab(lab: np.ndarray, dtype: np.dtype | type = np.uint8) -> np.ndarray:
    """HxWx3 float Lab -> RGB of ``dtype`` (uint8 or uint16), clipped to gamut."""
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_LAB2RGB)
    s = _scale(np.dtype(dtype))
    return np.clip(np.rint(rgb * s), 0, s).astype(dtype)


def luminance(image: np.ndarray) -> np.ndarray:
    """L* (HxW float32, 0..100) of an RGB image."""
    return to_lab(image)[..., 0]


def grey_of(image: np.ndarray) -> np.ndarray:
    """The luminance-only version of ``image`` (a*=b*=0), as RGB of the same dtype: what a
    colour photo looks like as a black-and-white one, and what colorizer models are fed."""
    lab = to_lab(image)
    lab[..., 1:] = 0.0
    return from_lab(lab, image.dtype)


def colour_ab(colours: np.ndarray) -> np.ndarray:
    """Nx3 uint8 RGB colours -> Nx3 float32 Lab (L, a, b)."""
    c = np.asarray(colours, np.float32).reshape(1, -1, 3) / 255.0
    return cv2.cvtColor(c, cv2.COLOR_RGB2LAB)[0]


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int,
                        eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter's per-pixel linear model ``src ~ A * guide + B`` (box-averaged).

    ``guide``: HxW float32; ``src``: HxWxC float32. Returns (A, B), each HxWxC.
    """
    g = guide[..., None] if src.ndim == 3 else guide
    mean_g = _box(guide, radius)
    mean_g = mean_g[..., None] if src.ndim == 3 else mean_g
    mean_s = _box(src, radius)
    corr_gs = _box(np.ascontiguousarray(g * src), radius)
    var_g = _box(guide * guide, radius)
    var_g = (var_g[..., None] if src.ndim == 3 else var_g) - mean_g * mean_g
    a = (corr_gs - mean_g * mean_s) / (var_g + eps)
    b = mean_s - a * mean_g
    return _box(a, radius), _box(b, radius)


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (w, h): area filter down, linear up."""
    if (x.shape[1], x.shape[0]) == size:
        return x
    down = size[0] * size[1] < x.shape[0] * x.shape[1]
    return cv2.resize(x, size, interpolation=cv2.INTER_AREA if down else cv2.INTER_LINEAR)


def upsample_chroma(luma: np.ndarray, ab: np.ndarray, *, radius: int = 4,
                    eps: float = 4.0) -> np.ndarray:
    """``ab`` (hxwx2 float, any small size and aspect) -> HxWx2 at the size of ``luma``
    (HxW float L*), edge-aware: a fast guided filter fitted at the chroma's size with the
    luminance as guide, its coefficients upsampled and applied to the full-resolution L*.

    ``radius`` is in pixels of the chroma's size; ``eps`` (L* units squared) is the
    luminance variance below which an edge is smoothed over."""
    h, w = luma.shape
    ab = np.asarray(ab, np.float32)
    if ab.ndim != 3 or ab.shape[2] != 2:
        raise InputError(f"Chroma must be an hxwx2 array of a*/b*; got shape {ab.shape}.")
    small = (ab.shape[1], ab.shape[0])
    if small == (w, h):
        a, b = guided_coefficients(luma, ab, radius, eps)
        return a * luma[..., None] + b
    # the chroma may have been predicted at another aspect (a square model input): bring it
    # to the image's aspect at about its own pixel count first
    s = math.sqrt(small[0] * small[1] / (w * h))
    work = (max(2, round(w * s)), max(2, round(h * s)))
    if work[0] >= w or work[1] >= h:
        work = (w, h)
    ab_w = _resize(ab, work)
    luma_w = _resize(luma, work)
    a, b = guided_coefficients(luma_w, ab_w, radius, eps)
    a = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
    b = cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR)
    return a * luma[..., None] + b


def apply_chroma(image: np.ndarray, ab_lowres: np.ndarray, *, strength: float = 1.0,
                 radius: int = 4, eps: float = 4.0, lab: np.ndarray | None = None) -> np.ndarray:
    """``image`` (HxWx3 uint8/uint16 RGB) coloured with ``ab_lowres`` (hxwx2 float a*/b* at
    any small size): the chroma is upsampled edge-aware (:func:`upsample_chroma`) and combined
    with the image's ORIGINAL full-resolution L*, so detail is the original's. ``strength``
    (0..1, more saturates) scales the chroma. Returns RGB of the image's dtype. ``lab``: the
    image's Lab when the caller already has it."""
    check_rgb(image)
    if not 0.0 <= strength <= 2.0:
        raise InputError(f"Colour strength must be within [0, 2]; got {strength}.")
    lab = to_lab(image) if lab is None else lab.copy()
    ab = upsample_chroma(lab[..., 0], ab_lowres, radius=radius, eps=eps)
    lab[..., 1:] = ab * strength
    return from_lab(lab, image.dtype)


def _measure_view(image: np.ndarray) -> np.ndarray:
    check_rgb(image)
    h, w = image.shape[:2]
    if h * w > _MEASURE_PIXELS:
        s = math.sqrt(_MEASURE_PIXELS / (h * w))
        image = cv2.resize(image, (max(2, round(w * s)), max(2, round(h * s))),
                           interpolation=cv2.INTER_AREA)
    return image


def colourfulness(image: np.ndarray) -> float:
    """Hasler and Süsstrunk's colourfulness M (on the 0..255 scale): 0 for grey, about 15 for
    a muted photo, 30-60 for an ordinary colour photo, above 100 for vivid graphics."""
    img = _measure_view(image).astype(np.float64) * (255.0 / _scale(image.dtype))
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def residual_chroma(image: np.ndarray) -> float:
    """RMS of the chroma (Lab units) that the luminance does not explain: a* and b* are fitted
    as a quadratic in L* (a toned print's tint changes with density) and the rest measured.
    About 0-2 for grey and sepia photos, 10-30 for colour ones."""
    lab = to_lab(_measure_view(image)).reshape(-1, 3).astype(np.float64)
    x = lab[:, 0] / 100.0
    basis = np.stack([np.ones_like(x), x, x * x], 1)
    coef, *_ = np.linalg.lstsq(basis, lab[:, 1:], rcond=None)
    res = lab[:, 1:] - basis @ coef
    return float(np.sqrt((res ** 2).sum(1).mean()))


def is_grey(image: np.ndarray, threshold: float = GREY_RESIDUAL) -> bool:
    """True for a monochrome photo: grey or evenly toned (its chroma is a function of its
    luminance, :func:`residual_chroma` below ``threshold``)."""
    return residual_chroma(image) < threshold
