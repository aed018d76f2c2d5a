"""Face parsing: a per-pixel class map of a face crop, from a BiSeNet-style model.

Labels are the 19 classes of CelebAMask-HQ in the order of the face-parsing.PyTorch
BiSeNet (``CLASSES``: 0 background, 1 skin, 2/3 brows, 4/5 eyes, 6 glasses, 7/8 ears,
9 earring, 10 nose, 11 mouth, 12/13 lips, 14 neck, 15 necklace, 16 cloth, 17 hair, 18 hat).
The masks built from them (:mod:`reelsmith.ops.face_mask`) read these numbers.

Only ONNX parsers are supported (input 1x3x512x512, ImageNet mean/std, RGB; output
1x19x512x512 logits); the PyTorch BiSeNet checkpoint is not built here. A crop of another
size is resized to the model's side and the labels resized back (nearest).
"""

from __future__ import annotations

import cv2
import numpy as np

from reelsmith.errors import InputError, ModelError
from reelsmith.models import BUILTIN_SPECS, FACE_PARSE, select_model
from reelsmith.models.shapes import SegmentationModel

CLASSES = ("background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear",
           "r_ear", "ear_r", "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth",
           "hair", "hat")
DEFAULT_SIZE = 512


class FaceParser:
    """Labels every pixel of a face crop with a :class:`SegmentationModel`."""

    def __init__(self, model: SegmentationModel) -> None:
        if not isinstance(model, SegmentationModel):
            raise ModelError(f"The model {model.name!r} is a {model.purpose} model; it cannot "
                             f"be used to {FACE_PARSE}.")
        if model.num_classes not in (None, len(CLASSES)):
            raise ModelError(f"The model {model.name!r} gives {model.num_classes} classes; a "
                             f"face parser must give the {len(CLASSES)} CelebAMask-HQ classes.")
        self.model = model
        self.name = model.name
        fixed = model.descriptor.fixed_size
        self.size = int(fixed[0]) if fixed else DEFAULT_SIZE

    def parse(self, crop: np.ndarray) -> np.ndarray:
        """An HxWx3 uint8 RGB face crop -> HxW uint8 labels (indices into ``CLASSES``)."""
        if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
            raise InputError(f"Expected an HxWx3 uint8 RGB face crop; got {crop.shape} "
                             f"{crop.dtype}.")
        h, w = crop.shape[:2]
        x = crop if (h, w) == (self.size, self.size) else cv2.resize(
            crop, (self.size, self.size), interpolation=cv2.INTER_AREA if h > self.size
            else cv2.INTER_CUBIC)
        t = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        labels = np.argmax(self.model(t)[0], axis=0).astype(np.uint8)
        if labels.shape != (h, w):
            labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
        return labels

    def describe(self) -> dict:
        info = self.model.describe()
        info.update({"crop_size": self.size, "classes": len(CLASSES),
                     "licence": self.model.descriptor.extra.get("licence")})
        return info


def select_parser(spec: str = "auto") -> FaceParser | None:
    """``auto``: the best installed face_parse model, None when there is none (the masks then
    come from landmarks); ``builtin``: None; a name or path: that model (ModelError when it is
    unknown, not a parser, or refused by the licence profile)."""
    if (spec or "auto").strip().lower() in BUILTIN_SPECS:
        return None
    model = select_model(spec, FACE_PARSE)
    return FaceParser(model) if model is not None else None  # type: ignore[arg-type]
