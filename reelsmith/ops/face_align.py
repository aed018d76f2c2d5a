"""Face alignment: a similarity transform from five landmarks onto a standard template, the
aligned crop, and the exact inverse that pastes a processed crop back.

Templates are the five-point layouts the models were trained on (same point order as
:class:`reelsmith.analysis.faces.types.Face.kps`): ``arcface`` (112 px; identity embedders),
``arcface_128`` (128 px; inswapper-style swappers) and ``ffhq`` (512 px; GFPGAN,
CodeFormer, GPEN, RestoreFormer). They scale to any crop size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reelsmith.errors import InputError

#: Five-point templates and the crop side they are given for.
_ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)
TEMPLATES: dict[str, tuple[int, np.ndarray]] = {
    "arcface": (112, _ARCFACE_112),
    # InsightFace's crop for 128 px swappers (inswapper): the 112 px points, unscaled, 8 px right.
    "arcface_128": (128, _ARCFACE_112 + (8.0, 0.0)),
    "ffhq": (512, np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                            [201.26117, 371.41043], [313.08905, 371.15118]], dtype=np.float64)),
}


def template_points(template: str, size: int) -> np.ndarray:
    """The template's five points for a ``size`` x ``size`` crop."""
    try:
        base, pts = TEMPLATES[template]
    except KeyError:
        raise InputError(f"Unknown face template {template!r}; use one of {sorted(TEMPLATES)}.") from None
    return pts * (size / base)


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, translation) mapping ``src`` points onto
    ``dst`` points in the least-squares sense (Umeyama's closed form, no reflection)."""
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    if src.shape != dst.shape or len(src) < 2:
        raise ValueError("need the same number (>= 2) of source and destination points")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s ** 2).sum() / len(src)
    if var_s < 1e-12:
        raise InputError("The face landmarks coincide; the face cannot be aligned.")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[1, 1] = -1
    rot = u @ fix @ vt
    scale = float((sig * np.diag(fix)).sum() / var_s)
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


@dataclass
class AlignedFace:
    """An aligned crop and the transforms between it and the image it came from."""

    crop: np.ndarray  # size x size x C, the image's dtype
    matrix: np.ndarray  # 2x3: image -> crop
    inverse: np.ndarray  # 2x3: crop -> image
    size: int
    template: str

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image points -> crop points."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return (p @ self.matrix[:, :2].T + self.matrix[:, 2]).astype(np.float32)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop points -> image points."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return (p @ self.inverse[:, :2].T + self.inverse[:, 2]).astype(np.float32)


def align_face(image: np.ndarray, kps: np.ndarray, *, template: str = "ffhq",
               size: int | None = None) -> AlignedFace:
    """Crop the face with five points ``kps`` onto ``template`` at ``size`` px (the template's
    own size when None). Outside the image the crop repeats the border (no black wedges for
    faces at the frame's edge)."""
    if template not in TEMPLATES:
        raise InputError(f"Unknown face template {template!r}; use one of {sorted(TEMPLATES)}.")
    side = int(size or TEMPLATES[template][0])
    matrix = estimate_similarity(kps, template_points(template, side))
    crop = cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return AlignedFace(crop, matrix, cv2.invertAffineTransform(matrix), side, template)


def paste_back(image: np.ndarray, aligned: AlignedFace, crop: np.ndarray,
               mask: np.ndarray | None = None) -> np.ndarray:
    """``image`` with ``crop`` (a processed version of ``aligned.crop``, any square size) warped
    back into place, blended by ``mask`` (crop-space float [0,1], HxW; the whole crop when
    None). Only the face's bounding region is warped; the rest of the image is untouched
    (returned as a new array)."""
    h, w = image.shape[:2]
    side = crop.shape[0]
    inv = aligned.inverse.copy()
    if side != aligned.size:  # a restorer/swapper may return another resolution
        inv[:, :2] *= aligned.size / side
    corners = np.array([[0, 0], [side, 0], [0, side], [side, side]], dtype=np.float64)
    mapped = corners @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(mapped.min(0)).astype(int) - 1
    x1, y1 = np.ceil(mapped.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    out = image.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    local = inv.copy()
    local[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    back = cv2.warpAffine(crop, local, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    m = np.ones(crop.shape[:2], np.float32) if mask is None else np.asarray(mask, np.float32)
    if m.shape != crop.shape[:2]:
        m = cv2.resize(m, (side, side), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(m, local, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0)
    region = out[y0:y1, x0:x1].astype(np.float32)
    if back.ndim == 3:
        alpha = alpha[..., None]
    blended = region + (back.astype(np.float32) - region) * alpha
    if np.issubdtype(image.dtype, np.integer):
        blended = np.clip(np.rint(blended), 0, np.iinfo(image.dtype).max)
    out[y0:y1, x0:x1] = blended.astype(image.dtype)
    return out
