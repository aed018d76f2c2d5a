"""The builtin portrait compositor: a person's face put into a reference portrait, no weights.

The reference keeps its background, pose, outfit and (outside the mask) everything else; the
face image gives the identity. Steps, all on the mask's bounding region of the reference:

1. Geometry. The face image's 68 landmarks are mapped onto the reference's by a piecewise
   affine warp (:func:`~reelsmith.ops.face_warp.piecewise_affine`). The landmarks stop at the
   brows, so a ring of anchor points around the whole mask region, moved by the least-squares
   similarity between the two faces, is added to both meshes: the forehead, hairline and, with
   ``include_hair``, the hair near the face come along rigidly and the mesh covers the whole
   mask. A face image whose face is much larger than the reference face is first cut around
   the face and scaled down (area filter), so the warp never samples a large face sparsely.
2. Colour. The warped face is recoloured in L*a*b* (mean/std per channel,
   :func:`~reelsmith.ops.color_transfer.lab_transfer`) so that its skin ring (the band inside
   the jaw-to-temple outline, eyes and brows left out) matches the reference's at the same
   place, by ``style.colour``.
3. Lighting. The low-frequency shading of L* is matched: both faces' L* are smoothed by a
   normalised convolution over the face (a Gaussian of an eighth of the face width), and the
   difference is added to the new face (``style.lighting``), so a face lit from the left in
   the reference stays lit from the left.
4. Blend. What moves is the new face: the landmark outline with its forehead up to the
   hairline (told from hair by colour, :func:`face_alpha`), not the face image's hair, ears or
   background, which would not fit the reference's head; the reference's hairstyle, ears and
   neck stay. ``mask`` bounds it further (its feather rescaled by ``style.feather``; the
   region also fades where the warp has no source pixels). Then either Poisson blending
   (``seamless``: the reference sets the values on the edge, so what offset is left fades out)
   or alpha feathering. Pixels where the mask is
   0 are the reference's, bit for bit.

:func:`composite_variants` gives distinct styles for ``count`` > 1: the builtin backend cannot
sample a new face, so it varies the blend and says so by the style's name.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reelsmith.analysis.faces.types import BROWS, EYE_IMAGE_LEFT, EYE_IMAGE_RIGHT, Face
from reelsmith.errors import InputError
from reelsmith.ops.blend import feather_blend, seamless_blend
from reelsmith.ops.color_transfer import lab_transfer
from reelsmith.ops.face_align import estimate_similarity
from reelsmith.ops.face_mask import MaskOptions, landmark_mask
from reelsmith.ops.face_warp import piecewise_affine
from reelsmith.ops.portrait_mask import portrait_mask

__all__ = ["MIN_FACE_PX", "SEAMS", "CompositeStyle", "check_face_size", "composite_portrait",
           "composite_variants", "face_alpha", "portrait_mask"]

#: The narrowest face (box width, px) of a face image the portrait accepts.
MIN_FACE_PX = 48
SEAMS = ("seamless", "feather")
#: A face image's face is scaled down before warping when it is this many times the reference face.
_DOWNSCALE_ABOVE = 1.5
#: Anchor points on the ring around the mask region.
_RING_POINTS = 16
#: The new face's region is the landmark outline grown by this fraction of the face width...
FACE_GROW = 0.03
#: ... and feathered over this fraction of it (times the style's feather).
FACE_FEATHER = 0.12


@dataclass(frozen=True)
class CompositeStyle:
    """One variant of the blend."""

    feather: float = 1.0  # multiplies the mask's feather (its ramp width)
    colour: float = 1.0  # colour transfer strength, 0..1
    lighting: float = 1.0  # low-frequency shading match strength, 0..1
    seam: str = "seamless"  # "seamless" (Poisson) or "feather"
    name: str = "default"

    def __post_init__(self) -> None:
        if not 0.2 <= self.feather <= 5.0:
            raise InputError(f"The composite feather factor must be within [0.2, 5], got {self.feather}.")
        for what, v in (("colour", self.colour), ("lighting", self.lighting)):
            if not 0.0 <= v <= 1.0:
                raise InputError(f"The composite {what} strength must be within [0, 1], got {v}.")
        if self.seam not in SEAMS:
            raise InputError(f"Unknown seam {self.seam!r}; use one of {list(SEAMS)}.")


# Hand-picked variants a user tells apart: softer / crisper edges, less or more of the face
# image's own tone, a plain feathered paste.
_PRESETS = (
    CompositeStyle(),
    CompositeStyle(feather=1.8, colour=0.8, lighting=0.6, name="soft edge, lighter harmonisation"),
    CompositeStyle(feather=0.6, colour=0.5, lighting=0.3, name="crisp edge, face's own tone"),
    CompositeStyle(feather=1.3, colour=1.0, lighting=1.0, seam="feather", name="feathered paste"),
    CompositeStyle(feather=2.5, colour=1.0, lighting=0.0, name="wide edge, colour only"),
    CompositeStyle(feather=0.8, colour=0.0, lighting=1.0, seam="feather", name="lighting only, feathered"),
)


def composite_variants(count: int) -> list[CompositeStyle]:
    """``count`` distinct styles, the first the default; beyond the presets the feather,
    colour and lighting strengths step through a low-discrepancy sequence. Raises
    :class:`InputError` for ``count`` < 1."""
    if int(count) != count or count < 1:
        raise InputError(f"The number of results must be a whole number of at least 1, got {count}.")
    out = list(_PRESETS[:count])
    i = len(out)
    while len(out) < count:
        frac = (i * np.array([0.6180339887, 0.4142135624, 0.7320508076])) % 1.0
        f, c, li = 0.5 + 2.0 * frac[0], 0.3 + 0.7 * frac[1], 0.2 + 0.8 * frac[2]
        seam = SEAMS[i % 2]
        out.append(CompositeStyle(feather=round(f, 3), colour=round(c, 3), lighting=round(li, 3), seam=seam,
                                  name=f"variant {i + 1}: feather x{f:.2f}, colour {c:.2f}, lighting {li:.2f}, {seam}"))
        i += 1
    return out


def check_face_size(face: Face, what: str) -> None:
    """Refuse a face narrower than :data:`MIN_FACE_PX`: ``what`` names the image ("face image")."""
    width = face.width
    if not np.isfinite(width) or width < MIN_FACE_PX:
        raise InputError(f"The {what}'s face is {width:.0f} px wide; at least {MIN_FACE_PX} px is needed "
                         f"to take an identity from it. Use a larger or closer photo of the face.")


def _image(im: np.ndarray, name: str) -> None:
    if not isinstance(im, np.ndarray) or im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
        got = f"{im.dtype} {im.shape}" if isinstance(im, np.ndarray) else type(im).__name__
        raise InputError(f"The {name} must be an HxWx3 uint8 RGB image, got {got}.")


def _landmarks(face: Face, name: str) -> np.ndarray:
    if face.landmarks is None:
        raise InputError(f"The {name} has no 68 landmarks; the builtin portrait compositor needs them "
                         "(install dlib's 68-point model, or use the diffusers backend).")
    lm = np.asarray(face.landmarks, dtype=np.float64)
    if lm.shape != (68, 2) or not np.isfinite(lm).all():
        raise InputError(f"The {name}'s landmarks must be 68 finite (x, y) points in iBUG order, got {lm.shape}.")
    return lm


def _face_width(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[16] - lm[0]))


def _fill(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
    cv2.fillConvexPoly(out, hull, 1, lineType=cv2.LINE_8, shift=4)
    return out


def skin_regions(shape: tuple[int, int], lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(face, ring) float32 masks of an image of ``shape`` from its 68 landmarks: the hull of the
    landmarks, and its skin ring (a band an eighth of the face width inside the hull's edge,
    without the brows and eyes)."""
    face = _fill(shape, lm)
    band = max(2.0, 0.12 * _face_width(lm))
    inside = cv2.distanceTransform(face, cv2.DIST_L2, 5)
    ring = (face > 0) & (inside <= band)
    features = np.vstack([lm[BROWS], lm[EYE_IMAGE_LEFT], lm[EYE_IMAGE_RIGHT]])
    centre = features.mean(0)
    ring &= _fill(shape, centre + 1.15 * (features - centre)) == 0
    return face.astype(np.float32), ring.astype(np.float32)


def face_alpha(image: np.ndarray, lm: np.ndarray, feather: float = 1.0) -> np.ndarray:
    """Where the new face goes in ``image`` (float32 HxW in [0, 1]): the landmark outline with
    its forehead, the forehead's top decided by colour (skin, not the reference's hair), grown by
    :data:`FACE_GROW` and feathered over :data:`FACE_FEATHER` of the face width (times
    ``feather``)."""
    width = _face_width(lm)
    opts = MaskOptions(include_hair=False, include_neck=False, expand=1.0, padding=FACE_GROW * width,
                       blur=FACE_FEATHER * width * feather)
    return landmark_mask(image, lm, options=opts, refine=True)


def _rescale_feather(mask: np.ndarray, factor: float) -> np.ndarray:
    """The soft mask with its ramp ``factor`` times as wide: each value is read back to its
    position on the smoothstep ramp, which is divided by ``factor``. Zero stays zero."""
    if factor == 1.0:
        return mask
    m = np.clip(mask, 0.0, 1.0)
    pos = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * m) / 3.0)  # inverse of 3t^2 - 2t^3
    t = np.clip(pos / factor, 0.0, 1.0)
    out = (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    out[m <= 0] = 0.0
    return out


def _smooth(values: np.ndarray, weight: np.ndarray, sigma: float, fallback: float) -> np.ndarray:
    """Normalised convolution: a weighted Gaussian average of ``values`` that fades to
    ``fallback`` far from any weight."""
    k = int(2 * round(3 * sigma) + 1)
    num = cv2.GaussianBlur(values * weight, (k, k), sigma, borderType=cv2.BORDER_REPLICATE)
    den = cv2.GaussianBlur(weight, (k, k), sigma, borderType=cv2.BORDER_REPLICATE)
    eps = 0.02
    return (num + eps * fallback) / (den + eps)


def _harmonise(src: np.ndarray, ref: np.ndarray, face: np.ndarray, ring: np.ndarray, width: float,
               style: CompositeStyle) -> np.ndarray:
    """``src`` (the warped face) with the colour of ``ref``'s skin ring and its shading."""
    if style.colour > 0 and ring.sum() >= 8:
        src = lab_transfer(src, ref, src_mask=ring, ref_mask=ring, strength=style.colour)
    if style.lighting <= 0 or face.sum() < 16:
        return src
    lab_s = cv2.cvtColor(src.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    lab_r = cv2.cvtColor(ref.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    sigma = max(2.0, width / 8.0)
    low_s = _smooth(lab_s[..., 0], face, sigma, float(lab_s[..., 0][face > 0].mean()))
    low_r = _smooth(lab_r[..., 0], face, sigma, float(lab_r[..., 0][face > 0].mean()))
    delta = low_r - low_s
    far = float(delta[face > 0].mean())  # beyond the face the correction fades to the mean offset
    delta = _smooth(delta, face, sigma, far)
    lab_s[..., 0] = np.clip(lab_s[..., 0] + style.lighting * delta, 0.0, 100.0)
    rgb = cv2.cvtColor(lab_s, cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def _source_crop(face_image: np.ndarray, src_pts: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``face_image`` the mesh reads, scaled by ``factor`` (<= 1), and the mesh
    points in that crop's pixels."""
    h, w = face_image.shape[:2]
    x0, y0 = np.maximum(np.floor(src_pts.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(src_pts.max(0)).astype(int) + 3, (w, h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return face_image, src_pts
    crop = face_image[y0:y1, x0:x1]
    pts = src_pts - np.array([x0, y0], dtype=np.float64)
    if factor < 1.0:
        size = (max(int(round(crop.shape[1] * factor)), 2), max(int(round(crop.shape[0] * factor)), 2))
        fx, fy = size[0] / crop.shape[1], size[1] / crop.shape[0]
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        # pixel centres: x_new + 0.5 = (x_old + 0.5) * f
        pts = (pts + 0.5) * np.array([fx, fy]) - 0.5
    return np.ascontiguousarray(crop), pts


def composite_portrait(reference: np.ndarray, ref_face: Face, face_image: np.ndarray, face: Face,
                       mask: np.ndarray, style: CompositeStyle = CompositeStyle()) -> np.ndarray:
    """``reference`` with the face of ``face_image`` put in place of ``ref_face`` inside
    ``mask`` (float HxW in [0, 1], reference pixels: :func:`portrait_mask`), as HxWx3 uint8.
    Pixels where ``mask`` is 0 are exactly the reference's. Raises :class:`InputError` for
    images that are not HxWx3 uint8, a mask of another size, or faces without 68 landmarks."""
    _image(reference, "reference")
    _image(face_image, "face image")
    if not isinstance(style, CompositeStyle):
        raise InputError("The composite style must be a CompositeStyle.")
    ref_lm = _landmarks(ref_face, "reference face")
    src_lm = _landmarks(face, "face image's face")
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2 or m.shape != reference.shape[:2] or not np.isfinite(m).all():
        raise InputError(f"The portrait mask must be a finite {reference.shape[:2]} array, got {m.shape}.")
    m = np.clip(m, 0.0, 1.0)
    ys, xs = np.nonzero(m > 0)
    if not len(ys):
        return reference.copy()
    h, w = m.shape
    pad = 4
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + 1 + pad, h)
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + 1 + pad, w)
    origin = np.array([x0, y0], dtype=np.float64)
    ref = reference[y0:y1, x0:x1]
    region_m = _rescale_feather(m[y0:y1, x0:x1], style.feather)
    dst_lm = ref_lm - origin

    # 1. Geometry: landmarks + a ring of anchors around the region, moved by the similarity.
    rh, rw = ref.shape[:2]
    t = np.linspace(0, 2 * np.pi, _RING_POINTS, endpoint=False)
    centre = np.array([(rw - 1) / 2, (rh - 1) / 2])
    ring_dst = centre + np.stack([np.cos(t) * rw, np.sin(t) * rh], axis=1) * 0.5 * np.sqrt(2) + 1.0
    back = estimate_similarity(dst_lm, src_lm)  # reference crop -> face image
    dst_pts = np.vstack([dst_lm, ring_dst])
    src_pts = np.vstack([src_lm, ring_dst @ back[:, :2].T + back[:, 2]])
    ratio = _face_width(src_lm) / max(_face_width(ref_lm), 1e-6)
    factor = 1.0 / ratio if ratio > _DOWNSCALE_ABOVE else 1.0
    src_img, src_pts = _source_crop(face_image, src_pts, factor)
    warped, coverage = piecewise_affine(src_img, src_pts, dst_pts, ref.shape)

    # 2-3. Colour and lighting on the skin ring / face, the same places in both (aligned).
    face_region, ring = skin_regions(ref.shape[:2], dst_lm)
    face_region *= coverage
    ring *= coverage
    width = _face_width(ref_lm)
    src = _harmonise(warped, ref, face_region, ring, width, style)

    # 4. Blend the new face (not the face image's hair or background) inside the mask, faded
    # where the warp had nothing to read.
    fade = max(2.0, 0.05 * width)
    cov = cv2.distanceTransform((coverage > 0).astype(np.uint8), cv2.DIST_L2, 5)
    alpha = region_m * face_alpha(ref, dst_lm, style.feather) * np.clip(cov / fade, 0.0, 1.0).astype(np.float32)
    if not (alpha > 0).any():
        return reference.copy()
    src = np.where((coverage > 0)[..., None], src, ref)
    blended = seamless_blend(ref, src, alpha) if style.seam == "seamless" else feather_blend(ref, src, alpha)
    out = reference.copy()
    out[y0:y1, x0:x1] = blended
    return out
