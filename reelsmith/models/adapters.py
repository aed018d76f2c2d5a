"""Model-backed upscaler and interpolator with the same shape as the classical ops.

``ModelUpscaler`` wraps an :class:`ImageModel` (uint8/uint16 HxWx3 in and out, tiled);
``ModelInterpolator`` wraps an :class:`InterpolationModel` (``prepare``/``interpolate``
like ``ops.interpolate.FlowInterpolator``). Both pass the model's declared ``workers`` on
to the streaming stage. ``select_upscaler``/``select_interpolator`` are
:func:`select.select_model` plus the wrapper.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from reelsmith.errors import InputError, ModelError
from reelsmith.models.base import LoadedModel
from reelsmith.models.descriptor import INTERPOLATE, UPSCALE
from reelsmith.models.select import select_model
from reelsmith.models.shapes import ImageModel, InterpolationModel, shape_name
from reelsmith.models.tiling import (
    auto_tile_size,
    is_out_of_memory,
    pad_to,
    run_tiled_with_retry,
)

log = logging.getLogger(__name__)


def _to_float(image: np.ndarray) -> tuple[np.ndarray, float]:
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"Expected an HxWx3 RGB image, got shape {image.shape}.")
    if image.dtype == np.uint8:
        maxval = 255.0
    elif image.dtype == np.uint16:
        maxval = 65535.0
    else:
        raise InputError(f"Expected a uint8 or uint16 image, got {image.dtype}.")
    return image.astype(np.float32) / maxval, maxval


def _from_float(x: np.ndarray, dtype: np.dtype, maxval: float) -> np.ndarray:
    return np.clip(np.rint(np.clip(x, 0.0, 1.0) * maxval), 0, maxval).astype(dtype)


class ModelUpscaler:
    """Upscales HxWx3 uint8/uint16 RGB images with a model, tiled.

    ``scale``: the output scale asked for; when it differs from the model's own scale the
    model's output is resized (area filter down, cubic up). ``tile``: tile edge in input
    pixels (None: automatic from free memory); ``overlap``: see :mod:`tiling`.
    """

    def __init__(self, model: ImageModel, *, scale: int | None = None, tile: int | None = None,
                 overlap: int = 16, batch_size: int = 1) -> None:
        _require(model, ImageModel)
        if model.purpose != UPSCALE and model.scale == 1:
            log.info("%s is a %s model used as a same-size image filter", model.name,
                     model.purpose)
        self.model = model
        self.name = model.name
        self.backend = model.backend
        self.scale = int(scale or model.scale)
        if self.scale < 1:
            raise InputError(f"Upscale factor must be at least 1, got {scale}.")
        self.tile = tile
        self.overlap = overlap
        self.batch_size = batch_size
        self.workers = model.workers
        self._last_tile: int | None = tile

    def _tile_for(self, h: int, w: int) -> int | None:
        d = self.model.descriptor
        if d.fixed_size:
            return None
        if not d.supports_tiling:
            return max(h, w)
        return self.tile

    def upscale(self, image: np.ndarray) -> np.ndarray:
        x, maxval = _to_float(image)
        d = self.model.descriptor
        h, w = x.shape[:2]
        tile = self._tile_for(h, w)
        if tile is None and not d.fixed_size:
            tile = auto_tile_size(scale=d.scale, multiple=d.size_multiple,
                                  device=self.model.device, precision=self.model.precision)
        self._last_tile = tile if tile else (d.fixed_size[0] if d.fixed_size else None)

        def retried(size: int) -> None:
            self._last_tile = size

        y = run_tiled_with_retry(
            x, self.model.run, scale=d.scale, tile=tile, overlap=self.overlap,
            multiple=d.size_multiple, fixed_size=d.fixed_size, batch_size=self.batch_size,
            device=self.model.device, precision=self.model.precision, on_retry=retried)
        if y.shape[2] != 3:
            raise ModelError(f"The model {self.name!r} returns {y.shape[2]} channels; an "
                             "upscaler must return RGB.")
        if self.scale != d.scale:
            import cv2

            interp = cv2.INTER_AREA if self.scale < d.scale else cv2.INTER_CUBIC
            y = cv2.resize(y, (w * self.scale, h * self.scale), interpolation=interp)
        return _from_float(y, image.dtype, maxval)

    def describe(self) -> dict:
        info = self.model.describe()
        info.update({"scale": self.scale, "model_scale": self.model.scale,
                     "tile_size": self._last_tile or "auto", "tile_overlap": self.overlap})
        return info


@dataclass
class TensorPair:
    """Two frames converted once (padded NCHW float32) for several timesteps."""

    a: np.ndarray  # 1x3xHpxWp float32
    b: np.ndarray
    height: int
    width: int
    dtype: np.dtype
    maxval: float
    src_a: np.ndarray
    src_b: np.ndarray


class ModelInterpolator:
    """Frame interpolation with a model: ``prepare(a, b)`` once per pair, then
    ``interpolate(state, t)`` per timestep (0 < t < 1). Scene cuts are the caller's job."""

    def __init__(self, model: InterpolationModel) -> None:
        _require(model, InterpolationModel)
        self.model = model
        self.name = model.name
        self.backend = model.backend
        self.workers = model.workers

    def prepare(self, a: np.ndarray, b: np.ndarray) -> TensorPair:
        if a.shape != b.shape or a.dtype != b.dtype:
            raise InputError(f"Frames to interpolate differ: {a.shape}/{a.dtype} vs "
                             f"{b.shape}/{b.dtype}.")
        fa, maxval = _to_float(a)
        fb, _ = _to_float(b)
        h, w = fa.shape[:2]
        m = max(1, self.model.descriptor.size_multiple)
        fixed = self.model.descriptor.fixed_size
        ph, pw = fixed if fixed else (-(-h // m) * m, -(-w // m) * m)
        if fixed and (h > ph or w > pw):
            raise InputError(f"The model {self.name!r} takes at most {pw}x{ph} frames; got "
                             f"{w}x{h}.")

        def nchw(x: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(pad_to(x, ph, pw).transpose(2, 0, 1)[None])

        return TensorPair(nchw(fa), nchw(fb), h, w, a.dtype, maxval, a, b)

    def interpolate(self, state: TensorPair, t: float) -> np.ndarray:
        if not 0.0 <= t <= 1.0:
            raise InputError(f"Interpolation timestep must be within [0, 1], got {t}.")
        if t == 0.0:
            return state.src_a.copy()
        if t == 1.0:
            return state.src_b.copy()
        try:
            y = self.model.run(state.a, state.b, float(t))
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            raise ModelError(f"The model {self.name!r} ran out of memory on "
                             f"{state.width}x{state.height} frames; frame interpolation is not "
                             "tiled, so free device memory or use a smaller input.") from exc
        out = y[0, :3, :state.height, :state.width].transpose(1, 2, 0)
        return _from_float(out, state.dtype, state.maxval)

    def describe(self) -> dict:
        info = self.model.describe()
        info.update({"tile_size": None, "size_multiple": self.model.descriptor.size_multiple})
        return info


def _require(model: LoadedModel, shape: type[LoadedModel]) -> None:
    if not isinstance(model, shape):
        raise ModelError(f"The model {model.name!r} is a {model.purpose} model, not a "
                         f"{shape_name(shape)} model.")


def select_upscaler(spec: str, *, scale: int | None = None, device: str = "auto",
                    precision: str = "auto", tile: int | None = None,
                    overlap: int = 16) -> ModelUpscaler | None:
    """``spec``: "auto" (best installed upscaler, None when there is none), "builtin"
    (None: use the classical op), a catalog/installed name, or a file path."""
    model = select_model(spec, UPSCALE, scale=scale, device=device, precision=precision)
    if model is None:
        return None
    return ModelUpscaler(model, scale=scale, tile=tile, overlap=overlap)


def select_interpolator(spec: str, *, device: str = "auto",
                        precision: str = "auto") -> ModelInterpolator | None:
    """Like :func:`select_upscaler` for frame interpolation models."""
    model = select_model(spec, INTERPOLATE, device=device, precision=precision)
    if model is None:
        return None
    return ModelInterpolator(model)
