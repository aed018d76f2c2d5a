"""One small class per call shape, in the spirit of spandrel's model descriptors.

=====================  ==================================================  ===============
class                  call                                                purposes
=====================  ==================================================  ===============
ImageModel             ``run(x)``: NCHW [0,1] -> NCHW (x scale)            upscale, restore,
                                                                           face_restore,
                                                                           colorize
InterpolationModel     ``run(a, b, t)``: two NCHW frames + t -> frame      interpolate
ConditionedImageModel  ``run(x, embedding)``: NCHW + (N, D) -> NCHW        face_swap
DetectionModel         ``run(x)``: NCHW -> {output name: raw tensor}       face_detect
EmbeddingModel         ``run(x)``: NCHW -> (N, D) raw embedding rows       face_embed
SegmentationModel      ``run(x)``: NCHW -> (N, C, H, W) class logits        face_parse
=====================  ==================================================  ===============

``run`` is the raw backend call: its input already meets the model's size needs (the tiler
and the adapters prepare tensors that way, once). ``__call__`` is the convenient contract:
it pads to the size requirement (``size_multiple`` or ``fixed_size``), runs, clamps image
outputs to [0, 1] and crops the padding away again. Backends subclass a shape (e.g.
``OnnxImageModel(OnnxRunner, ImageModel)``); :func:`shape_for` names the class a purpose
needs, so ``load_model(..., purpose=...)`` refuses a model of another shape at load time.
A new call shape (a diffusion pipeline, a masked model) is a new class added to ``SHAPES``.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from reelsmith.errors import InputError, ModelError
from reelsmith.models.base import LoadedModel
from reelsmith.models.descriptor import (
    FACE_DETECT,
    FACE_EMBED,
    FACE_PARSE,
    FACE_SWAP,
    IMAGE_PURPOSES,
    INTERPOLATE,
    ModelDescriptor,
)


def padded_size(d: ModelDescriptor, name: str, h: int, w: int) -> tuple[int, int]:
    """(height, width) an h x w input is padded to for the model ``d``.

    Raises InputError when the input is larger than a fixed-size model takes.
    """
    if d.fixed_size:
        ph, pw = d.fixed_size
        if h > ph or w > pw:
            raise InputError(f"The model {name!r} takes at most {pw}x{ph} inputs; got {w}x{h}.")
        return ph, pw
    m = max(1, d.size_multiple)
    return -(-h // m) * m, -(-w // m) * m


def pad_nchw(x: np.ndarray, height: int, width: int, mode: str = "reflect") -> np.ndarray:
    """Pad an NCHW array at the bottom/right to (height, width); ``mode`` as np.pad, with
    "reflect" falling back to "edge" for 1-pixel inputs."""
    ph, pw = height - x.shape[2], width - x.shape[3]
    if ph <= 0 and pw <= 0:
        return x
    if mode == "reflect" and min(x.shape[2], x.shape[3]) <= 1:
        mode = "edge"
    return np.pad(x, ((0, 0), (0, 0), (0, max(ph, 0)), (0, max(pw, 0))), mode=mode)


def _check_nchw(x: np.ndarray, what: str) -> None:
    if x.ndim != 4:
        raise InputError(f"Expected an NCHW {what} batch, got shape {x.shape}.")


class ImageModel(LoadedModel):
    """Image -> image: upscalers, restorers, colorizers."""

    purposes: tuple[str, ...] = IMAGE_PURPOSES

    @abstractmethod
    def run(self, x: np.ndarray) -> np.ndarray:
        """NCHW float32 [0,1] already sized for the model -> NCHW float32 (x scale)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        _check_nchw(x, "image")
        h, w = x.shape[2:]
        y = self.run(pad_nchw(x, *padded_size(self.descriptor, self.name, h, w)))
        s = self.scale
        return np.clip(y[:, :, :h * s, :w * s], 0.0, 1.0)


class InterpolationModel(LoadedModel):
    """Two frames and a timestep -> the frame at that time."""

    purposes: tuple[str, ...] = (INTERPOLATE,)

    @abstractmethod
    def run(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        """Two NCHW float32 [0,1] frames (sized for the model) and t in [0,1] -> frame."""

    def __call__(self, a: np.ndarray, b: np.ndarray, t: float = 0.5) -> np.ndarray:
        _check_nchw(a, "frame")
        if a.shape != b.shape:
            raise InputError(f"Frames to interpolate differ: {a.shape} vs {b.shape}.")
        h, w = a.shape[2:]
        ph, pw = padded_size(self.descriptor, self.name, h, w)
        y = self.run(pad_nchw(a, ph, pw), pad_nchw(b, ph, pw), float(t))
        return np.clip(y[:, :3, :h, :w], 0.0, 1.0)


class ConditionedImageModel(LoadedModel):
    """Image + a conditioning vector -> image of the same size (face swappers: an aligned
    target face crop and the source identity embedding)."""

    purposes: tuple[str, ...] = (FACE_SWAP,)
    embedding_size: int | None = None  # D of the (N, D) embedding; None: any

    @abstractmethod
    def run(self, x: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """NCHW float32 [0,1] (sized for the model) and (N, D) float32 -> NCHW [0,1]."""

    def __call__(self, x: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        _check_nchw(x, "image")
        emb = np.asarray(embedding, dtype=np.float32)
        if emb.ndim == 1:
            emb = emb[None]
        if emb.ndim != 2 or emb.shape[0] != x.shape[0]:
            raise InputError(f"The model {self.name!r} takes one embedding row per image; got "
                             f"{emb.shape} for {x.shape[0]} image(s).")
        if self.embedding_size and emb.shape[1] != self.embedding_size:
            raise InputError(f"The model {self.name!r} takes {self.embedding_size}-value "
                             f"embeddings; got {emb.shape[1]}.")
        h, w = x.shape[2:]
        y = self.run(pad_nchw(x, *padded_size(self.descriptor, self.name, h, w)), emb)
        return np.clip(y[:, :, :h, :w], 0.0, 1.0)


class DetectionModel(LoadedModel):
    """Image -> detections, as the raw output tensors by name.

    Decoding (anchors, score threshold, non-maximum suppression) depends on the model family
    and belongs to its caller (``analysis/faces``). Padding is added at the bottom/right with
    zeros, so coordinates in the outputs are coordinates in the unpadded input.
    """

    purposes: tuple[str, ...] = (FACE_DETECT,)
    output_names: tuple[str, ...] = ()

    @abstractmethod
    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """NCHW float32 [0,1] (sized for the model) -> {output name: array}."""

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        _check_nchw(x, "image")
        h, w = x.shape[2:]
        return self.run(pad_nchw(x, *padded_size(self.descriptor, self.name, h, w), "constant"))


class EmbeddingModel(LoadedModel):
    """An aligned crop -> one embedding row per image (face identity).

    ``run`` returns the raw rows; ``__call__`` checks the input is exactly the model's size
    (an embedder sees an aligned crop, never a padded one) and returns them L2-normalised,
    so that a dot product of two rows is their cosine similarity.
    """

    purposes: tuple[str, ...] = (FACE_EMBED,)
    embedding_size: int | None = None  # D; None until the first run when the graph hides it

    @abstractmethod
    def run(self, x: np.ndarray) -> np.ndarray:
        """NCHW float32 [0,1] of the model's size -> (N, D) float32."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        _check_nchw(x, "image")
        fixed = self.descriptor.fixed_size
        if fixed and tuple(x.shape[2:]) != tuple(fixed):
            raise InputError(f"The model {self.name!r} embeds {fixed[1]}x{fixed[0]} aligned "
                             f"crops; got {x.shape[3]}x{x.shape[2]}.")
        y = np.asarray(self.run(x), dtype=np.float32).reshape(x.shape[0], -1)
        norm = np.linalg.norm(y, axis=1, keepdims=True)
        return y / np.maximum(norm, 1e-12)


class SegmentationModel(LoadedModel):
    """Image -> per-pixel class logits (N, C, H, W) at the input's size (face parsing)."""

    purposes: tuple[str, ...] = (FACE_PARSE,)
    num_classes: int | None = None

    @abstractmethod
    def run(self, x: np.ndarray) -> np.ndarray:
        """NCHW float32 [0,1] (sized for the model) -> (N, C, H, W) float32 logits."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        _check_nchw(x, "image")
        h, w = x.shape[2:]
        y = self.run(pad_nchw(x, *padded_size(self.descriptor, self.name, h, w)))
        return y[:, :, :h, :w]


#: Every call shape; :func:`shape_for` looks a purpose up here.
SHAPES: tuple[type[LoadedModel], ...] = (
    ImageModel, InterpolationModel, ConditionedImageModel, DetectionModel, EmbeddingModel,
    SegmentationModel)


def shape_for(purpose: str) -> type[LoadedModel]:
    """The call-shape class a model for ``purpose`` is; ModelError for an unknown purpose."""
    for cls in SHAPES:
        if purpose in getattr(cls, "purposes", ()):
            return cls
    raise ModelError(f"No call shape serves the model purpose {purpose!r}.")


def shape_name(cls: type[LoadedModel]) -> str:
    """Words for error messages: "single-image", "frame interpolation", ..."""
    base = next((c for c in cls.__mro__ if c in SHAPES), cls)
    return {ImageModel: "single-image", InterpolationModel: "frame interpolation",
            ConditionedImageModel: "conditioned image (image + embedding)",
            DetectionModel: "detection", EmbeddingModel: "embedding (image -> vector)",
            SegmentationModel: "segmentation (image -> class map)"}.get(base, cls.__name__)
