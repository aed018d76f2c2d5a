"""Classical upscaling: Lanczos resampling plus edge-aware, halo-free sharpening.

This is the embedded default (no weights). Learned upscalers come through
:mod:`reelsmith.models` and share the ``upscale(image) -> image`` shape.
"""

from __future__ import annotations

import cv2
import numpy as np

from reelsmith.errors import InputError


def target_size(width: int, height: int, *, scale: float | None = None,
                target_height: int | None = None, even: bool = False) -> tuple[int, int]:
    """Output (width, height) for a scale factor or a target height (aspect kept)."""
    if target_height is not None:
        if target_height < 1:
            raise InputError("The target height must be a positive number of pixels.")
        w = max(1, round(width * target_height / height))
        h = target_height
    else:
        s = scale if scale is not None else 2
        if s <= 0:
            raise InputError("The scale must be positive.")
        w, h = max(1, round(width * s)), max(1, round(height * s))
    if even:
        w += w % 2
        h += h % 2
    return w, h


def _edge_weight(src: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """Edge strength in [0, 1], computed on the small source and resized (cheap)."""
    f = src.astype(np.float32)
    if src.dtype == np.uint16:
        f *= 255.0 / 65535.0
    gray = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if f.ndim == 3 else f
    mag = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3),
                        cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))
    # Flat areas (noise, smooth gradients) get little sharpening, real edges the full amount.
    w = np.clip((mag - 6.0) * (1.0 / 40.0), 0.0, 1.0)
    w = cv2.GaussianBlur(w, (0, 0), 0.8)
    return cv2.resize(w, out_size, interpolation=cv2.INTER_LINEAR)


def _sharpen(up: np.ndarray, src: np.ndarray, amount: float, radius: float) -> np.ndarray:
    """Unsharp mask weighted by edge strength and clamped to the local range (no halos)."""
    h, w = up.shape[:2]
    weight = _edge_weight(src, (w, h)) * amount
    kernel = np.ones((3, 3), np.uint8)
    local_max = cv2.dilate(up, kernel)
    local_min = cv2.erode(up, kernel)
    blur = cv2.GaussianBlur(up, (0, 0), radius)
    if up.dtype == np.uint8:
        detail = cv2.subtract(up, blur, dtype=cv2.CV_16S)
        wt = cv2.merge([weight] * up.shape[2]) if up.ndim == 3 else weight
        boost = cv2.multiply(detail, wt, dtype=cv2.CV_16S)
        out = cv2.add(up, boost, dtype=cv2.CV_16S)
        out = cv2.min(cv2.max(out, local_min.astype(np.int16)), local_max.astype(np.int16))
        return out.astype(np.uint8)
    peak = float(np.iinfo(up.dtype).max) if up.dtype.kind == "u" else 1.0
    f = up.astype(np.float32)
    wt = weight[..., None] if up.ndim == 3 else weight
    out = f + wt * (f - blur.astype(np.float32))
    out = np.minimum(np.maximum(out, local_min), local_max)
    return np.clip(out + (0.5 if up.dtype.kind == "u" else 0.0), 0, peak).astype(up.dtype)


def upscale_image(image: np.ndarray, *, scale: float | None = None,
                  size: tuple[int, int] | None = None, sharpen: float = 0.6) -> np.ndarray:
    """Resize ``image`` (HxWxC uint8/uint16/float32) by ``scale`` or to ``size`` (w, h).

    Alpha (a 4th channel) is resampled with plain Lanczos and never sharpened.
    """
    h, w = image.shape[:2]
    out_w, out_h = size if size else target_size(w, h, scale=scale)
    if (out_w, out_h) == (w, h):
        return image.copy()
    interp = cv2.INTER_LANCZOS4 if out_w >= w else cv2.INTER_AREA
    alpha = None
    rgb = image
    if image.ndim == 3 and image.shape[2] == 4:
        rgb, alpha = image[..., :3], image[..., 3]
    up = cv2.resize(rgb, (out_w, out_h), interpolation=interp)
    if sharpen > 0 and out_w > w:
        factor = out_w / w
        up = _sharpen(up, rgb, sharpen, radius=0.5 + 0.35 * factor)
    if alpha is not None:
        a = cv2.resize(alpha, (out_w, out_h), interpolation=interp)
        up = np.dstack([up, a])
    return up


class ClassicalUpscaler:
    """The built-in upscaler with the same shape as model-backed ones."""

    name = "builtin-lanczos"
    backend = "opencv"

    def __init__(self, *, scale: float | None = 2, size: tuple[int, int] | None = None,
                 sharpen: float = 0.6) -> None:
        self.scale = scale
        self.size = size
        self.sharpen = sharpen

    def upscale(self, image: np.ndarray) -> np.ndarray:
        return upscale_image(image, scale=self.scale, size=self.size, sharpen=self.sharpen)

    def describe(self) -> dict:
        return {"name": self.name, "backend": self.backend, "sharpen": self.sharpen,
                "scale": self.scale, "size": list(self.size) if self.size else None}
