"""Built-in face swap without weights: the source person's face texture moved onto the target
face by its landmarks. Named for what it is, a warp-and-blend swap (the classic landmark
method), not a learned identity swap: it carries the source's skin, eyes, nose and mouth
appearance; the face shape follows the target's landmarks so the result fits the head.

Steps: the least-squares similarity between the two sets of 68 landmarks gives the rigid
motion (it moves the surroundings of the mesh, :mod:`reelsmith.ops.face_warp`), the piecewise
affine warp on the landmarks' Delaunay triangles places every feature; the target's face mask
(landmark hull with forehead; hair and neck off by default, since the swapped texture ends at
the face) limits where the source shows; the warped source is recoloured in Lab so that its
skin ring matches the target's skin ring (:mod:`reelsmith.ops.color_transfer`); Poisson
blending inside the mask hides what colour offset is left at the edge.
"""

from __future__ import annotations

import numpy as np

from reelsmith.errors import InputError
from reelsmith.ops.blend import feather_blend, seamless_blend
from reelsmith.ops.color_transfer import lab_transfer, skin_ring
from reelsmith.ops.face_mask import MaskOptions, landmark_mask
from reelsmith.ops.face_warp import piecewise_affine

BLENDS = ("seamless", "feather")


def swap_mask_options(face_width: float) -> MaskOptions:
    """The default mask of a swap for a face ``face_width`` px wide: face and forehead only,
    no expansion or padding, a feather of a tenth of the face width (at least 3 px)."""
    return MaskOptions(include_hair=False, include_neck=False, expand=1.0, padding=0.0,
                       blur=max(3.0, 0.1 * face_width))


def _landmarks(pts: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(pts, dtype=np.float64)
    if p.shape != (68, 2) or not np.isfinite(p).all():
        raise InputError(f"The {name} landmarks must be 68 finite (x, y) points in iBUG order, got {p.shape}.")
    return p


def _image(im: np.ndarray, name: str) -> None:
    if not isinstance(im, np.ndarray) or im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
        raise InputError(f"The {name} image must be HxWx3 uint8 RGB.")


def swap_face(source: np.ndarray, source_landmarks: np.ndarray, target: np.ndarray,
              target_landmarks: np.ndarray, *, options: MaskOptions | None = None, colour: bool = True,
              blend: str = "seamless") -> tuple[np.ndarray, np.ndarray]:
    """``target`` with the face of ``source`` put in place of its own, and the float32 HxW mask
    (target pixels) that says where it changed. ``options`` default to :func:`swap_mask_options`;
    the mask is computed from geometry only (no colour refinement: the target's colours say
    nothing about where the source face should go). ``colour`` matches the source skin to the
    target's; ``blend`` is ``"seamless"`` (Poisson) or ``"feather"`` (alpha). Raises
    :class:`InputError` on a wrong image, landmark array or blend name."""
    _image(source, "source")
    _image(target, "target")
    src_lm = _landmarks(source_landmarks, "source")
    tgt_lm = _landmarks(target_landmarks, "target")
    if blend not in BLENDS:
        raise InputError(f"Unknown blend {blend!r}; use one of {list(BLENDS)}.")
    width = float(np.linalg.norm(tgt_lm[16] - tgt_lm[0]))
    opts = options or swap_mask_options(width)
    warped, coverage = piecewise_affine(source, src_lm, tgt_lm, target.shape)
    mask = landmark_mask(target, tgt_lm, options=opts, refine=False) * coverage
    if not (mask > 0).any():
        return target.copy(), mask
    # Colour and blending work on the mask's bounding region only (a face, not the frame).
    ys, xs = np.nonzero(mask > 0)
    pad = 4
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + 1 + pad, target.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + 1 + pad, target.shape[1])
    tgt, src, m = target[y0:y1, x0:x1], warped[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    if colour:
        ring = skin_ring(m, max(3.0, 0.08 * width))
        src = lab_transfer(src, tgt, src_mask=ring, ref_mask=ring)
    out = target.copy()
    out[y0:y1, x0:x1] = seamless_blend(tgt, src, m) if blend == "seamless" else feather_blend(tgt, src, m)
    return out, mask
