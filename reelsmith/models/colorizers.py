"""A colorization model behind one small object: a photo in, a*/b* chroma at the model's size out.

``select_colorizer(spec)`` is :func:`select.select_model` for ``colorize`` (the licence profile
is checked there, once) plus the wrapper; None means "no model: use the built-in modes".
Two ONNX contracts are known, told apart by the graph's output channels:

- **DDColor** (2 output channels): input 1x3xSxS RGB in [0, 1] made from the luminance only
  (L* with a* = b* = 0, converted back to RGB), output 1x2xSxS a*/b* in Lab units. S is 512
  for the published DDColor models and 256 for ``paper_tiny`` (catalog ``input_size``).
- **DeOldify-class** (3 output channels): 1x3xSxS RGB in, 1x3xSxS RGB out; only the output's
  chroma is used (its luminance is the model's guess and is thrown away).

The photo is squeezed to the model's square input (as DDColor's own pipeline does); the chroma
comes back at that size and :func:`reelsmith.ops.chroma.apply_chroma` puts it on the
full-resolution luminance. A graph with a free input size runs at ``render_size``.

``.pth`` weights go through spandrel; spandrel 0.4.2 does not know DDColor or DeOldify, so a
``.pth`` colorizer is refused with a sentence that says to use an ONNX export instead.
"""

from __future__ import annotations

import cv2
import numpy as np

from reelsmith.errors import InputError, ModelError
from reelsmith.models.catalog import find_entry
from reelsmith.models.descriptor import COLORIZE
from reelsmith.models.loader import wrong_purpose
from reelsmith.models.select import select_model
from reelsmith.models.shapes import ImageModel

#: Side a colorizer with a free input size runs at, unless told otherwise.
DEFAULT_RENDER_SIZE = 512


def _input_size(model: ImageModel, render_size: int) -> int:
    fixed = model.descriptor.fixed_size
    if fixed:
        if fixed[0] != fixed[1]:
            raise ModelError(f"The colorizer {model.name!r} takes {fixed[1]}x{fixed[0]} inputs; "
                             "only square inputs are supported.")
        return int(fixed[0])
    entry = find_entry(model.name)
    size = entry.extra.get("input_size") if entry is not None else None
    size = int(size) if size else render_size
    m = max(1, model.descriptor.size_multiple)
    return max(m, -(-size // m) * m)


class Colorizer:
    """Predicts a*/b* for a photo with an :class:`ImageModel` of purpose colorize."""

    def __init__(self, model: ImageModel, *, render_size: int = DEFAULT_RENDER_SIZE) -> None:
        if not isinstance(model, ImageModel) or model.purpose != COLORIZE:
            raise ModelError(wrong_purpose(model.name, model.purpose, COLORIZE))
        if not 64 <= render_size <= 4096:
            raise InputError(f"The render size must be between 64 and 4096 px; got {render_size}.")
        self.model = model
        self.name = model.name
        self.backend = model.backend
        self.size = _input_size(model, render_size)
        self.kind: str | None = None  # "ddcolor" or "rgb", known from the first output

    def _kind(self, channels: int) -> str:
        if channels not in (2, 3):
            raise ModelError(f"The colorizer {self.name!r} returns {channels} channels; a "
                             "colorizer returns a*/b* (2, DDColor) or RGB (3, DeOldify-class).")
        return "ddcolor" if channels == 2 else "rgb"

    def _input(self, image: np.ndarray) -> np.ndarray:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype not in (np.uint8, np.uint16):
            raise InputError(f"A colorizer takes HxWx3 uint8/uint16 RGB; got {image.shape} "
                             f"{image.dtype}.")
        scale = 65535.0 if image.dtype == np.uint16 else 255.0
        small = cv2.resize(image.astype(np.float32) / scale, (self.size, self.size),
                           interpolation=cv2.INTER_AREA)
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
        lab[..., 1:] = 0.0
        grey = np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), 0.0, 1.0)
        return np.ascontiguousarray(grey.transpose(2, 0, 1)[None], dtype=np.float32)

    def colorize(self, image: np.ndarray) -> np.ndarray:
        """HxWx3 uint8/uint16 RGB (grey or colour: only its luminance is used) -> SxSx2
        float32 a*/b* in Lab units at the model's size S."""
        y = self.model.run(self._input(image))  # raw call: a*/b* are not clamped to [0, 1]
        if y.ndim != 4 or y.shape[2:] != (self.size, self.size):
            raise ModelError(f"The colorizer {self.name!r} returned shape {y.shape} for a "
                             f"{self.size}x{self.size} input.")
        self.kind = self._kind(int(y.shape[1]))
        if self.kind == "ddcolor":
            return np.ascontiguousarray(y[0, :2].transpose(1, 2, 0), dtype=np.float32)
        rgb = np.clip(y[0, :3].transpose(1, 2, 0), 0.0, 1.0).astype(np.float32)
        return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 1:])

    def describe(self) -> dict:
        info = self.model.describe()
        info.update({"input_size": self.size, "contract": self.kind,
                     "licence": self.model.descriptor.extra.get("licence")})
        return info


def select_colorizer(spec: str, *, render_size: int = DEFAULT_RENDER_SIZE, device: str = "auto",
                     precision: str = "auto") -> Colorizer | None:
    """``spec``: "auto" (best installed colorizer; None when there is none), "builtin" (None),
    a catalog/installed name or a file path. Raises ModelError as :func:`select.select_model`
    does (unknown, not installed, wrong purpose, refused by the licence profile), and for a
    ``.pth`` whose architecture spandrel does not know."""
    try:
        model = select_model(spec, COLORIZE, device=device, precision=precision)
    except ModelError as exc:
        if str(spec).lower().endswith((".pth", ".pt", ".safetensors")):
            raise ModelError(f"{exc} DDColor and DeOldify .pth weights are not supported "
                             "through spandrel; use an ONNX export of the model.") from None
        raise
    if model is None:
        return None
    return Colorizer(model, render_size=render_size)  # type: ignore[arg-type]
