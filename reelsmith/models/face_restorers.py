"""A face restoration model behind one small object the face workflows call.

``select_face_restorer(spec)`` is :func:`select.select_model` for ``face_restore`` plus the
wrapper; None means "use the built-in restoration". The contract is an aligned crop on the
FFHQ template (``template = "ffhq"``, see :mod:`reelsmith.ops.face_align`) of the model's
side (``size``: 512 for GFPGAN, CodeFormer, RestoreFormer++ and GPEN-BFR-512, 256 for
GPEN-BFR-256) in, the restored crop of the same size out, uint8 RGB both ways. A crop of
another size is resized to the model's side and back (area filter down, cubic up).
"""

from __future__ import annotations

import cv2
import numpy as np

from reelsmith.errors import InputError, ModelError
from reelsmith.models.descriptor import FACE_RESTORE
from reelsmith.models.loader import wrong_purpose
from reelsmith.models.select import select_model
from reelsmith.models.shapes import ImageModel

#: Side of the crop a restorer that does not fix its input size is given.
DEFAULT_SIZE = 512


def to_nchw(crop: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> 1x3xHxW float32 [0, 1]."""
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
        raise InputError(f"Expected an HxWx3 uint8 RGB face crop; got {crop.shape} {crop.dtype}.")
    return np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def from_nchw(y: np.ndarray) -> np.ndarray:
    """1x3xHxW float [0, 1] -> HxWx3 uint8 RGB."""
    return np.clip(np.rint(y[0, :3].transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)


def resize_square(crop: np.ndarray, size: int) -> np.ndarray:
    if crop.shape[0] == size and crop.shape[1] == size:
        return crop
    interp = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def takes_fidelity(model: ImageModel) -> bool:
    """True for restorers with CodeFormer's fidelity weight (an ONNX ``weight`` input or
    spandrel's CodeFormer forward)."""
    return bool(model.descriptor.extra.get("fidelity_input"))


class FaceRestorer:
    """Restores aligned FFHQ-template face crops with an :class:`ImageModel`."""

    template = "ffhq"

    def __init__(self, model: ImageModel, *, fidelity: float | None = None) -> None:
        if not isinstance(model, ImageModel) or model.purpose != FACE_RESTORE:
            raise ModelError(wrong_purpose(model.name, model.purpose, FACE_RESTORE))
        self.model = model
        self.name = model.name
        self.backend = model.backend
        fixed = model.descriptor.fixed_size
        self.size = int(fixed[0]) if fixed else DEFAULT_SIZE
        if fidelity is not None:
            if not takes_fidelity(model):
                raise ModelError(f"The model {model.name!r} has no fidelity weight; only "
                                 "CodeFormer takes one.")
            model.configure(fidelity=fidelity)  # type: ignore[attr-defined]
        self.fidelity = fidelity

    def restore(self, crop: np.ndarray) -> np.ndarray:
        """An aligned HxWx3 uint8 RGB crop -> the restored crop, same size and dtype."""
        if crop.ndim != 3 or crop.shape[0] != crop.shape[1]:
            raise InputError(f"A face crop must be square HxWx3; got {crop.shape}.")
        side = crop.shape[0]
        y = from_nchw(self.model(to_nchw(resize_square(crop, self.size))))
        return resize_square(y, side)

    def describe(self) -> dict:
        info = self.model.describe()
        info.update({"crop_size": self.size, "template": self.template,
                     "licence": self.model.descriptor.extra.get("licence")})
        if self.fidelity is not None:
            info["fidelity"] = self.fidelity
        return info


def select_face_restorer(spec: str, *, fidelity: float | None = None, device: str = "auto",
                         precision: str = "auto") -> FaceRestorer | None:
    """``spec``: "auto" (best installed face restorer; None when there is none), "builtin"
    (None), a catalog/installed name or a file path. ``fidelity``: CodeFormer's weight
    (0 = strongest restoration, 1 = most faithful to the input); a ModelError for models
    without one. Raises ModelError as :func:`select.select_model` does."""
    model = select_model(spec, FACE_RESTORE, device=device, precision=precision)
    if model is None:
        return None
    if fidelity is not None and not takes_fidelity(model) and (spec or "auto").strip().lower() == "auto":
        fidelity = None  # auto picked a restorer without a fidelity weight: nothing to set
    return FaceRestorer(model, fidelity=fidelity)
