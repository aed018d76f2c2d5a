"""Face masks: which pixels belong to a face (optionally with its hair and neck), as a soft
float32 HxW mask in [0, 1].

Two sources, one set of options (:class:`MaskOptions`, the options the IP-to-Portrait users
rely on):

- ``landmark_mask``: geometry from the 68 iBUG landmarks (their hull plus a forehead extension:
  the points stop at the eyebrows, so the brows are lifted by half the brow-to-chin distance,
  less at the temples), or an ellipse from the five points / the box when there are no dense
  landmarks. Hair and, when ``refine`` is on, the geometric guesses (forehead, neck, margins)
  are decided by colour with GrabCut, seeded with the inner face as sure foreground, the
  candidate regions as probable foreground and the surroundings as background. GrabCut runs on
  the face's region downscaled to at most ``GRABCUT_SIDE`` px, so the cost does not grow with
  the frame. The hull of the landmarks themselves is never removed.
- ``parsing_mask``: from a face-parsing label map (BiSeNet, 19 CelebAMask-HQ classes).

Both then apply the same finishing: ``expand`` scales the region about the face centre,
``padding`` grows it by that many px, and ``blur`` is the width in px of the feathered edge,
a smooth ramp from 0 at the padded edge to 1 ``blur`` px inside it (so with blur <= padding
the face itself stays at full strength). Pixel units are pixels of the image the mask is
computed on, multiplied by ``scale``: a caller computing the mask on a 512 px crop of a face
that is 200 px wide in the frame passes ``scale=512/200`` to keep the frame-pixel meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reelsmith.analysis.faces.types import BROWS, JAW
from reelsmith.errors import InputError

#: Longest side (px) of the region GrabCut works on.
GRABCUT_SIDE = 192
#: Forehead height as a fraction of the brow-to-chin distance.
FOREHEAD = 0.5

#: CelebAMask-HQ classes as BiSeNet face parsers number them.
PARSING_CLASSES = ("background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear",
                   "ear_r", "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat")
_FACE_LABELS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13)  # skin, brows, eyes, glasses, ears, nose, mouth, lips
_HAIR_LABELS = (17,)
_NECK_LABELS = (14,)


@dataclass
class MaskOptions:
    """What the mask covers and how its edge looks (px: see the module docstring)."""

    include_hair: bool = True
    include_neck: bool = False
    expand: float = 1.2  # scale of the region about the face centre
    blur: float = 30.0  # width of the feathered edge, px
    padding: float = 50.0  # px added around the region before feathering

    def __post_init__(self) -> None:
        if not 0.5 <= self.expand <= 3.0:
            raise InputError(f"Mask expand must be within [0.5, 3], got {self.expand}.")
        if self.blur < 0 or self.padding < 0:
            raise InputError(f"Mask blur and padding must not be negative, got {self.blur} and {self.padding}.")


@dataclass
class _Geometry:
    """Where the face is, in image pixels: polygons and the face's own axes."""

    outline: np.ndarray  # face polygon including the forehead
    sure: np.ndarray  # polygon that is face whatever the colours say
    core: np.ndarray  # inner polygon used as GrabCut's sure foreground
    centre: np.ndarray
    up: np.ndarray  # unit vector chin -> forehead
    width: float
    height: float  # chin to top of forehead

    @property
    def right(self) -> np.ndarray:
        return np.array([-self.up[1], self.up[0]])

    def neck(self) -> np.ndarray:
        """The lower half of the outline, narrowed and extended down by 0.6 face heights."""
        rel = self.outline - self.centre
        along = rel @ self.up
        lower = rel[along < 0]
        across = lower @ self.right
        narrowed = self.centre + 0.8 * across[:, None] * self.right + (lower @ self.up)[:, None] * self.up
        return np.vstack([narrowed, narrowed - self.up * 0.6 * self.height])

    def hair(self) -> np.ndarray:
        """The head around the face above the mouth: where hair can be."""
        c = self.centre + self.up * 0.2 * self.height
        pts = _ellipse(c, self.right, self.up, 0.85 * self.width, 0.75 * self.height)
        keep = (pts - self.centre) @ self.up > -0.25 * self.height
        return pts[keep]


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if n < 1e-6:
        raise InputError("The face landmarks coincide; no mask can be made from them.")
    return v / n


def _hull(pts: np.ndarray) -> np.ndarray:
    return cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)


def _geometry_from_68(lm: np.ndarray) -> _Geometry:
    jaw, brows = lm[JAW], lm[BROWS]
    brow_mid = brows.mean(0)
    chin = lm[8]
    up = _unit(brow_mid - chin)
    right = np.array([-up[1], up[0]])
    face_len = float(np.linalg.norm(brow_mid - chin))
    half = max(float(np.abs((brows - brow_mid) @ right).max()), 1e-3)
    t = ((brows - brow_mid) @ right) / half
    lift = FOREHEAD * face_len * np.sqrt(np.clip(1.0 - 0.7 * t ** 2, 0.1, 1.0))
    lifted = brows + lift[:, None] * up
    outline = _hull(np.vstack([jaw, brows, lifted]))
    sure = _hull(lm)
    inner = lm[17:]
    core = _hull(inner.mean(0) + 0.9 * (inner - inner.mean(0)))
    width = float(np.linalg.norm(lm[16] - lm[0]))
    return _Geometry(outline, sure, core, outline.mean(0), up, width, face_len * (1 + FOREHEAD))


def _ellipse(centre: np.ndarray, right: np.ndarray, up: np.ndarray, a: float, b: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    return centre + np.cos(t)[:, None] * right * a + np.sin(t)[:, None] * up * b


def _geometry_from_ellipse(centre: np.ndarray, up: np.ndarray, a: float, b: float) -> _Geometry:
    right = np.array([-up[1], up[0]])
    outline = _ellipse(centre, right, up, a, b)
    core = _ellipse(centre, right, up, 0.55 * a, 0.55 * b)
    return _Geometry(outline, core, core, centre, up, 2 * a, 2 * b)


def _geometry_from_kps(kps: np.ndarray) -> _Geometry:
    eye_mid = kps[:2].mean(0)
    mouth_mid = kps[3:].mean(0)
    up = _unit(eye_mid - mouth_mid)
    em = float(np.linalg.norm(eye_mid - mouth_mid))
    eyes = float(np.linalg.norm(kps[1] - kps[0]))
    chin = mouth_mid - up * 0.8 * em
    top = eye_mid + up * 1.2 * em
    return _geometry_from_ellipse((chin + top) / 2, up, 1.1 * max(eyes, 0.5 * em), 1.5 * em)


def _geometry_from_box(box: np.ndarray) -> _Geometry:
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    if w <= 1 or h <= 1:
        raise InputError(f"The face box {list(np.round(box, 1))} is empty; no mask can be made from it.")
    centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2 - 0.1 * h])
    return _geometry_from_ellipse(centre, np.array([0.0, -1.0]), 0.5 * w, 0.6 * h)


def _fill(shape: tuple[int, int], poly: np.ndarray, origin: np.ndarray, factor: float = 1.0) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    pts = np.round((poly - origin) * factor * 16).astype(np.int32)
    cv2.fillPoly(out, [cv2.convexHull(pts)], 1, lineType=cv2.LINE_8, shift=4)
    return out


def _keep_connected(binary: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The components of ``binary`` that overlap ``seed``, holes filled."""
    n, labels = cv2.connectedComponents(binary, connectivity=8)
    hit = np.unique(labels[(seed > 0) & (binary > 0)])
    keep = np.isin(labels, hit[hit > 0]).astype(np.uint8)
    contours, _ = cv2.findContours(keep, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(keep)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled


def _grabcut(region: np.ndarray, core: np.ndarray, candidate: np.ndarray, geometry_px: float) -> np.ndarray:
    """GrabCut foreground (uint8 0/1) of ``region``: ``core`` sure face, ``candidate`` probably
    face, a band around the candidate probably background, the rest background."""
    h, w = region.shape[:2]
    f = min(1.0, GRABCUT_SIDE / max(h, w))
    small = (max(int(round(w * f)), 8), max(int(round(h * f)), 8))
    img = cv2.resize(region, small, interpolation=cv2.INTER_AREA)
    cand = cv2.resize(candidate, small, interpolation=cv2.INTER_NEAREST)
    sure = cv2.resize(core, small, interpolation=cv2.INTER_NEAREST)
    band = max(int(round(0.15 * geometry_px * f)), 2)
    near = cv2.dilate(cand, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1)))
    gc = np.full(img.shape[:2], cv2.GC_BGD, np.uint8)
    gc[near > 0] = cv2.GC_PR_BGD
    gc[cand > 0] = cv2.GC_PR_FGD
    gc[sure > 0] = cv2.GC_FGD
    background = (gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD)
    if background.all() or not background.any():
        return candidate.copy()  # a face too small for the region, or no background to learn from
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models with k-means drawn from OpenCV's per-thread RNG, which
    # advances with every call: seed it so one face gives one mask (reproducible results, no
    # mask flicker between identical frames).
    cv2.setRNGSeed(0x5EED)
    cv2.grabCut(img, gc, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
    fg = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    return (cv2.resize(fg * 255, (w, h), interpolation=cv2.INTER_LINEAR) > 127).astype(np.uint8)


def _finish(binary: np.ndarray, centre: np.ndarray, options: MaskOptions, scale: float) -> np.ndarray:
    """Expand about ``centre``, pad and feather a 0/1 region into the soft mask."""
    if not binary.any():
        return np.zeros(binary.shape, np.float32)
    h, w = binary.shape
    region = binary.astype(np.uint8)
    e = float(options.expand)
    if e != 1.0:
        m = np.array([[e, 0, centre[0] * (1 - e)], [0, e, centre[1] * (1 - e)]], dtype=np.float64)
        scaled = cv2.warpAffine(region, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
        region = np.maximum(region, scaled) if e > 1 else scaled
    pad = float(options.padding) * scale
    if pad > 0:
        outside = cv2.distanceTransform((region == 0).astype(np.uint8), cv2.DIST_L2, 5)
        region = (outside <= pad).astype(np.uint8)
    feather = float(options.blur) * scale
    if feather <= 0:
        return region.astype(np.float32)
    inside = cv2.distanceTransform(region, cv2.DIST_L2, 5)
    t = np.clip(inside / feather, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError("A face mask needs an HxWx3 uint8 RGB image.")


def landmark_mask(image: np.ndarray, landmarks68: np.ndarray | None, *, kps: np.ndarray | None = None,
                  box: np.ndarray | None = None, options: MaskOptions | None = None, refine: bool = True,
                  scale: float = 1.0) -> np.ndarray:
    """The face mask of ``image`` (float32 HxW in [0, 1]) from 68 iBUG landmarks, or, when they
    are None, from the five ``kps`` or the ``box`` (x1, y1, x2, y2). Hair (``include_hair``) is
    found by colour; with ``refine`` the forehead, neck and margins are checked by colour too
    (``refine=False`` and no hair: pure geometry, the fastest). Raises :class:`InputError` when
    no face geometry is given or it has the wrong shape."""
    _check_image(image)
    opts = options or MaskOptions()
    if scale <= 0:
        raise InputError(f"The mask scale must be positive, got {scale}.")
    if landmarks68 is not None:
        lm = np.asarray(landmarks68, dtype=np.float64)
        if lm.shape != (68, 2):
            raise InputError(f"Dense landmarks must be (68, 2) in iBUG order, got {lm.shape}.")
        geo = _geometry_from_68(lm)
    elif kps is not None:
        k = np.asarray(kps, dtype=np.float64)
        if k.shape != (5, 2):
            raise InputError(f"Five-point landmarks must be (5, 2), got {k.shape}.")
        geo = _geometry_from_kps(k)
    elif box is not None:
        geo = _geometry_from_box(np.asarray(box, dtype=np.float64).reshape(4))
    else:
        raise InputError("A face mask needs the face's landmarks, its five points or its box.")
    h, w = image.shape[:2]
    polys = [geo.outline]
    if opts.include_neck:
        polys.append(geo.neck())
    if opts.include_hair:
        polys.append(geo.hair())
    pts = np.vstack(polys)
    # The working region: everything the mask can reach after expand, padding and feathering.
    reach = geo.centre + (pts - geo.centre) * max(opts.expand, 1.0)
    margin = opts.padding * scale + 0.15 * geo.width + 2
    x0, y0 = np.floor(reach.min(0) - margin).astype(int)
    x1, y1 = np.ceil(reach.max(0) + margin).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    mask = np.zeros((h, w), np.float32)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return mask  # the face lies outside the image
    origin = np.array([x0, y0], dtype=np.float64)
    shape = (y1 - y0, x1 - x0)
    face = _fill(shape, geo.outline, origin)
    if opts.include_neck:
        face |= _fill(shape, geo.neck(), origin)
    sure = _fill(shape, geo.sure, origin)
    hair = _fill(shape, geo.hair(), origin) & (1 - face) if opts.include_hair else None
    if opts.include_hair or refine:
        candidate = face | hair if hair is not None else face
        fg = _grabcut(image[y0:y1, x0:x1], _fill(shape, geo.core, origin), candidate, geo.width)
        region = (fg & face) if refine else face
        if hair is not None:
            region |= fg & hair
        region = _keep_connected(region | sure, sure)
    else:
        region = face | sure
    mask[y0:y1, x0:x1] = _finish(region, geo.centre - origin, opts, scale)
    return mask


def parsing_mask(labels: np.ndarray, options: MaskOptions | None = None, *, scale: float = 1.0) -> np.ndarray:
    """The face mask (float32 HxW in [0, 1]) from a face-parsing label map (HxW integers in
    BiSeNet's CelebAMask-HQ numbering, :data:`PARSING_CLASSES`): skin, brows, eyes, glasses,
    ears, nose, mouth and lips, plus hair and neck as the options say (never earrings, necklace,
    cloth or hat). Raises :class:`InputError` for a map that is not 2-D or has labels above 18."""
    opts = options or MaskOptions()
    lab = np.asarray(labels)
    if lab.ndim != 2 or not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"A parsing label map must be a 2-D integer array, got {lab.dtype} {lab.shape}.")
    if lab.size and (lab.min() < 0 or lab.max() >= len(PARSING_CLASSES)):
        raise InputError(f"Parsing labels must lie in 0..{len(PARSING_CLASSES) - 1} (CelebAMask-HQ classes).")
    if scale <= 0:
        raise InputError(f"The mask scale must be positive, got {scale}.")
    face = np.isin(lab, _FACE_LABELS)
    if not face.any():
        return np.zeros(lab.shape, np.float32)
    wanted = _FACE_LABELS + (_HAIR_LABELS if opts.include_hair else ()) + (_NECK_LABELS if opts.include_neck else ())
    region = np.isin(lab, wanted).astype(np.uint8)
    ys, xs = np.nonzero(face)
    centre = np.array([xs.mean(), ys.mean()])
    return _finish(_keep_connected(region, face.astype(np.uint8)), centre, opts, scale)


def save_mask_image(mask: np.ndarray) -> np.ndarray:
    """A mask as an HxWx3 uint8 grey image (0 outside, 255 inside), for ``--save-mask``."""
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2:
        raise InputError(f"A mask is a 2-D array, got shape {m.shape}.")
    grey = np.clip(np.rint(m * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)
