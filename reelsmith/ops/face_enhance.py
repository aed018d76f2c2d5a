"""Built-in face restoration without weights: detail-preserving denoise plus edge-aware
sharpening, inside the face mask only. It is what it says, not a generative restorer: it
removes noise and crisps edges; it cannot invent detail a blurred face has lost.

- The noise level is estimated from the luma with Immerkaer's Laplacian-difference operator
  (robust median form, so edges do not count as noise).
- Luma is denoised with non-local means at a strength tied to that level (skipped on a clean
  image); chroma, where noise is least visible but PSNR still counts it, gets a light
  edge-preserving bilateral filter.
- Luma is then sharpened with an unsharp mask gated by an edge map (gradient magnitude of the
  denoised luma, relative to the noise level), so flat skin is not sharpened back into noise.

``strength`` scales the whole change; 0 returns the input unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

from reelsmith.errors import InputError

#: Pixels of context around the mask's bounding box given to the filters.
_CONTEXT = 12
_LAPLACE_DIFF = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


def estimate_noise(luma: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Standard deviation of white noise in a uint8/float luma plane (pixel units), estimated
    from the median absolute response of a 3x3 second-difference operator (which cancels
    smooth shading; the median ignores edges). ``mask`` limits where it is measured."""
    r = cv2.filter2D(luma.astype(np.float32), -1, _LAPLACE_DIFF, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    if mask is not None:
        sel = mask[1:-1, 1:-1] > 0.5
        if sel.sum() >= 64:
            r = r[sel]
    # The operator's gain on white noise is sqrt(36) = 6; MAD -> sigma is 1/0.6745.
    return float(np.median(np.abs(r)) / 0.6745 / 6.0)


def enhance_face(crop: np.ndarray, mask: np.ndarray, strength: float = 0.8) -> np.ndarray:
    """``crop`` (HxWx3 uint8 RGB) denoised and sharpened where ``mask`` (float HxW in [0, 1])
    is positive, weighted by ``mask * strength``; pixels where the mask is 0 are returned
    exactly. Raises :class:`InputError` for a wrong image/mask shape or a strength outside
    [0, 1]."""
    if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3:
        raise InputError(f"Face enhancement needs an HxWx3 uint8 image, got {crop.dtype} {crop.shape}.")
    m = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    if m.shape != crop.shape[:2]:
        raise InputError(f"The mask is {m.shape}, the face crop {crop.shape[:2]}: they must match.")
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"Face enhancement strength must be within [0, 1], got {strength}.")
    if strength == 0.0 or not (m > 0).any():
        return crop.copy()
    # Work on the mask's bounding region (with context for the filters), not the whole frame.
    ys, xs = np.nonzero(m > 0)
    h, w = m.shape
    y0, y1 = max(ys.min() - _CONTEXT, 0), min(ys.max() + 1 + _CONTEXT, h)
    x0, x1 = max(xs.min() - _CONTEXT, 0), min(xs.max() + 1 + _CONTEXT, w)
    out = crop.copy()
    out[y0:y1, x0:x1] = _enhance_region(crop[y0:y1, x0:x1], m[y0:y1, x0:x1], strength)
    return out


def _enhance_region(crop: np.ndarray, m: np.ndarray, strength: float) -> np.ndarray:
    ycc = cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb)
    y = ycc[..., 0]
    sigma = estimate_noise(y, m)
    if sigma >= 1.5:
        y_dn = cv2.fastNlMeansDenoising(y, None, h=float(1.1 * sigma), templateWindowSize=5, searchWindowSize=13)
        d = 5 if sigma < 8 else 7
        chroma = np.dstack([cv2.bilateralFilter(np.ascontiguousarray(ycc[..., c]), d, 2.0 * sigma, d)
                            for c in (1, 2)])
    else:
        y_dn, chroma = y, ycc[..., 1:]
    yf = y_dn.astype(np.float32)
    detail = yf - cv2.GaussianBlur(yf, (0, 0), 1.2)
    gx = cv2.Sobel(yf, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(yf, cv2.CV_32F, 0, 1, ksize=3)
    grad = cv2.GaussianBlur(np.sqrt(gx * gx + gy * gy), (0, 0), 1.0)
    lo, hi = 8.0 + 2.0 * sigma, 24.0 + 6.0 * sigma  # Sobel units; below lo: flat, above hi: edge
    gate = np.clip((grad - lo) / (hi - lo), 0.0, 1.0)
    y_sh = np.clip(yf + 0.9 * gate * detail, 0, 255)
    out_ycc = np.dstack([np.rint(y_sh).astype(np.uint8), chroma])
    enhanced = cv2.cvtColor(out_ycc, cv2.COLOR_YCrCb2RGB).astype(np.float32)
    w = (m * strength)[..., None]
    src = crop.astype(np.float32)
    out = np.clip(np.rint(src + (enhanced - src) * w), 0, 255).astype(np.uint8)
    out[m <= 0] = crop[m <= 0]
    return out
