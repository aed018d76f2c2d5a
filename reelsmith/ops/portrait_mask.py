"""The portrait mask: the region of a reference portrait that receives a new face.

One mask serves both portrait backends (the builtin compositor blends inside it, the diffusion
backend inpaints inside it). It is computed on a crop around the reference face, never on the
whole photo, so a 12 MP portrait costs what its face costs, then placed in a zero mask of the
full image. Pixel options (``blur``, ``padding``) are pixels of a face normalised to the FFHQ
512 px crop (:func:`~reelsmith.ops.face_editors.mask_scale`), so the mask looks the same on a
small or a large face.

Two methods, one set of options (:class:`~reelsmith.ops.face_mask.MaskOptions`):

- a face-parsing model (``parser``: anything with ``parse(crop) -> labels``, e.g.
  :class:`~reelsmith.analysis.faces.parsing.FaceParser`): skin, features, and hair / neck by
  class, so ``include_hair`` and ``include_neck`` are exact;
- landmarks (no weights): the 68-point hull lifted over the forehead; hair is the part of a
  head-shaped region above the mouth that GrabCut tells apart from the background by colour,
  and the neck is a geometric band under the jaw checked by colour. What it cannot do: hair
  that falls below the jaw (long hair on the shoulders) is not included, and a hat or hair the
  colour of the background is not told apart from them. Without 68 landmarks it falls back to
  an ellipse from the five points or the box (hair and neck then follow the same ellipse).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reelsmith.analysis.faces.types import Face
from reelsmith.errors import InputError
from reelsmith.ops.face_editors import mask_scale
from reelsmith.ops.face_mask import MaskOptions, landmark_mask, parsing_mask

#: Half side of the working crop, in face sizes (box's longer side), before expand/padding:
#: the hair region reaches about 1.3 face sizes above the face centre.
CROP_REACH = 1.6


def _check(reference: np.ndarray, face: Face) -> None:
    if (not isinstance(reference, np.ndarray) or reference.dtype != np.uint8 or reference.ndim != 3
            or reference.shape[2] != 3):
        raise InputError("The reference image must be HxWx3 uint8 RGB.")
    box = np.asarray(face.box, dtype=np.float64).reshape(-1)
    if box.size != 4 or not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
        raise InputError(f"The reference face box {box.tolist()} is not a valid (x1, y1, x2, y2) box.")


def crop_window(image_shape: tuple[int, ...], face: Face, options: MaskOptions) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the square region around ``face`` the mask can reach, clipped to the
    image: the head with its hair, scaled by ``expand``, plus ``padding`` and a margin."""
    h, w = int(image_shape[0]), int(image_shape[1])
    box = np.asarray(face.box, dtype=np.float64).reshape(4)
    pts = [box.reshape(2, 2)]
    if face.landmarks is not None:
        pts.append(np.asarray(face.landmarks, dtype=np.float64))
    allp = np.vstack(pts)
    centre = (allp.min(0) + allp.max(0)) / 2
    size = float(max(allp.max(0) - allp.min(0)))
    half = CROP_REACH * size * max(options.expand, 1.0) + options.padding * mask_scale(face) + 4
    if options.include_neck:
        half += 0.5 * size
    x0, y0 = np.floor(centre - half).astype(int)
    x1, y1 = np.ceil(centre + half).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def _shifted(face: Face, dx: float, dy: float) -> Face:
    d = np.array([dx, dy], dtype=np.float32)
    return Face(box=np.asarray(face.box, np.float32) - np.tile(d, 2), score=face.score,
                kps=np.asarray(face.kps, np.float32) - d,
                landmarks=None if face.landmarks is None else np.asarray(face.landmarks, np.float32) - d,
                detector=face.detector)


def portrait_mask(reference: np.ndarray, ref_face: Face, options: MaskOptions, *,
                  parser: Any | None = None) -> np.ndarray:
    """The float32 HxW mask in [0, 1] (full-image coordinates) of the part of ``reference``
    that receives the new face: from ``parser``'s labels when given, else from ``ref_face``'s
    landmarks (see the module docstring for what each can do with hair and neck). Raises
    :class:`InputError` for a wrong image or face box."""
    _check(reference, ref_face)
    x0, y0, x1, y1 = crop_window(reference.shape, ref_face, options)
    mask = np.zeros(reference.shape[:2], np.float32)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return mask  # the face lies outside the image
    crop = np.ascontiguousarray(reference[y0:y1, x0:x1])
    face = _shifted(ref_face, x0, y0)
    scale = mask_scale(ref_face)
    if parser is not None:
        labels = np.asarray(parser.parse(crop))
        if labels.shape != crop.shape[:2]:
            raise InputError(f"The face parser returned a {labels.shape} label map for a {crop.shape[:2]} crop.")
        part = parsing_mask(labels.astype(np.int64), options, scale=scale)
    else:
        part = landmark_mask(crop, face.landmarks, kps=face.kps, box=face.box, options=options,
                             refine=True, scale=scale)
    mask[y0:y1, x0:x1] = part
    return mask
