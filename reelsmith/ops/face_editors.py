"""The crop editors and maskers :class:`~reelsmith.ops.face_process.FaceProcessor` uses.

Editors: restoration by a model (``ModelRestore``) or built in (``BuiltinRestore``: denoise +
edge-aware sharpening inside the mask), swap by a model (``ModelSwap``: aligned crop + source
identity embedding) or built in (``BuiltinSwap``: landmark-driven warp of the source face,
colour transfer and Poisson blending). Maskers: from dense landmarks (refined by colour) or
from a face-parsing model's labels.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from reelsmith.analysis.faces.types import Face
from reelsmith.errors import InputError
from reelsmith.ops.face_align import TEMPLATES, AlignedFace
from reelsmith.ops.face_enhance import enhance_face
from reelsmith.ops.face_mask import MaskOptions, landmark_mask, parsing_mask
from reelsmith.ops.face_swap_builtin import swap_face

# The eye distance of the FFHQ template, in its 512 px crop.
_FFHQ_EYES = float(np.linalg.norm(TEMPLATES["ffhq"][1][1] - TEMPLATES["ffhq"][1][0]))


def mask_scale(face: Face) -> float:
    """The factor the mask options' pixel values (blur, padding) are multiplied by for
    ``face`` (in the coordinates it is given in): they are pixels of a face normalised to the
    FFHQ 512 px crop (eyes 126 px apart), so a mask looks the same on a small or a large face."""
    return float(np.linalg.norm(face.kps[1] - face.kps[0])) / _FFHQ_EYES


def native_crop_size(face: Face, lo: int = 96, hi: int = 512) -> int:
    """The FFHQ crop side at which the face keeps its own resolution (no invented pixels)."""
    eyes = float(np.linalg.norm(face.kps[1] - face.kps[0]))
    side = 512 * eyes / _FFHQ_EYES
    return int(np.clip(round(side / 8) * 8, lo, hi))


def _mix(a: np.ndarray, b: np.ndarray, amount: float) -> np.ndarray:
    """``a`` moved ``amount`` of the way to ``b`` (uint8)."""
    if amount >= 1.0:
        return b
    if amount <= 0.0:
        return a
    return cv2.addWeighted(b, float(amount), a, 1.0 - float(amount), 0.0)


class ModelRestore:
    """A face restoration model on the FFHQ-aligned crop, mixed by ``strength``."""

    template = "ffhq"

    def __init__(self, restorer: Any, strength: float = 0.8) -> None:
        self.restorer = restorer
        self.strength = float(strength)
        self.name = restorer.describe().get("name", "model")

    def crop_size(self, face: Face) -> int:
        return int(self.restorer.size)

    def edit(self, crop: np.ndarray, face: Face, mask: np.ndarray) -> np.ndarray:
        return _mix(crop, self.restorer.restore(crop), self.strength)

    def describe(self) -> dict[str, Any]:
        return self.restorer.describe() | {"strength": self.strength}


class BuiltinRestore:
    """Built-in restoration at the face's own resolution: detail-preserving denoise and
    edge-aware sharpening inside the mask (no generated detail)."""

    template = "ffhq"
    name = "builtin-face-enhance"

    def __init__(self, strength: float = 0.8) -> None:
        self.strength = float(strength)

    def crop_size(self, face: Face) -> int:
        return native_crop_size(face)

    def edit(self, crop: np.ndarray, face: Face, mask: np.ndarray) -> np.ndarray:
        return enhance_face(crop, mask, self.strength)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "backend": "opencv", "strength": self.strength,
                "method": "edge-preserving denoise + edge-aware sharpening inside the face mask"}


class ModelSwap:
    """A face swap model: the target's aligned crop and the source identity embedding.
    ``blend``: how much of the target's own face shows through (0 = none)."""

    def __init__(self, swapper: Any, embedding: np.ndarray, blend: float = 0.0) -> None:
        self.swapper = swapper
        self.embedding = np.asarray(embedding, np.float32)
        self.blend = float(blend)
        self.template = swapper.template
        self.name = swapper.describe().get("name", "model")

    def crop_size(self, face: Face) -> int:
        return int(self.swapper.output_size)

    def edit(self, crop: np.ndarray, face: Face, mask: np.ndarray) -> np.ndarray:
        return _mix(self.swapper.swap(crop, self.embedding), crop, self.blend)

    def describe(self) -> dict[str, Any]:
        return self.swapper.describe() | {"blend": self.blend}


class BuiltinSwap:
    """Built-in swap: the source face warped onto the target's landmarks (similarity, then
    piecewise-affine), its colour matched in Lab over the skin ring, Poisson-blended."""

    template = "ffhq"
    name = "builtin-landmark-swap"

    def __init__(self, source: np.ndarray, source_face: Face, blend: float = 0.0, *,
                 seam: str = "seamless") -> None:
        if source_face.landmarks is None:
            raise InputError("The built-in face swap needs dense landmarks of the source face; "
                             "no landmarker is installed (see `reelsmith faces detect --help`).")
        self.source = source
        self.source_face = source_face
        self.seam = seam  # "seamless" (Poisson) or "feather"
        self.blend = float(blend)

    def crop_size(self, face: Face) -> int:
        return native_crop_size(face, lo=128)

    def edit(self, crop: np.ndarray, face: Face, mask: np.ndarray) -> np.ndarray:
        if face.landmarks is None:
            raise InputError("The built-in face swap needs dense landmarks of every target face; "
                             "no landmarker is installed.")
        swapped, _ = swap_face(self.source, self.source_face.landmarks, crop, face.landmarks,
                               blend=self.seam)
        return _mix(swapped, crop, self.blend)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "backend": "opencv", "blend": self.blend, "seam": self.seam,
                "method": "landmark warp + Lab colour transfer + "
                          + ("Poisson blending" if self.seam == "seamless" else "feathered blending")}


class LandmarkMasker:
    """The face mask from dense landmarks (or five points), refined by colour."""

    name = "landmarks"

    def __init__(self, options: MaskOptions) -> None:
        self.options = options

    def mask(self, crop: np.ndarray, face: Face, aligned: AlignedFace) -> np.ndarray:
        return landmark_mask(crop, face.landmarks, kps=face.kps, box=face.box,
                             options=self.options, scale=mask_scale(face))


class ParsingMasker:
    """The face mask from a face-parsing model's labels (hair, neck, ... by class)."""

    def __init__(self, parser: Any, options: MaskOptions) -> None:
        self.parser = parser
        self.options = options
        self.name = parser.describe().get("name", "face-parsing") if hasattr(parser, "describe") else "face-parsing"

    def mask(self, crop: np.ndarray, face: Face, aligned: AlignedFace) -> np.ndarray:
        labels = self.parser.parse(crop)
        return parsing_mask(labels, self.options, scale=mask_scale(face))
