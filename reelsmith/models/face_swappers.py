"""A face swap model behind one small object the face workflows call.

``select_face_swapper(spec)`` is :func:`select.select_model` for ``face_swap`` plus the
wrapper; None means "use the built-in swap". The contract (a
:class:`shapes.ConditionedImageModel`): an aligned target crop, uint8 RGB, and the source
person's identity embedding in; the swapped crop, same size, out.

inswapper_128 (InsightFace), as its reference code ``insightface/model_zoo/inswapper.py``
runs it: inputs ``target`` 1x3x128x128 (RGB, ``/ 255``: [0, 1]) and ``source`` 1x512; output
1x3x128x128 RGB in [0, 1]. The source row is not the ArcFace embedding itself but
``normalize(normed_embedding @ emap)``, where ``emap`` is the 512x512 matrix stored as the
graph's last initializer. The target crop is aligned with InsightFace's ``estimate_norm``
for a 128 px side: the ArcFace 112 px five-point template shifted right by 8 px (not scaled:
``ratio = size / 128``, ``diff_x = 8 * ratio``), i.e. template ``"arcface_128"``, whose
points :meth:`FaceSwapper.template_points` returns for any side. Other ONNX swappers with an
(image, embedding) graph run with the same contract but without the emap step unless their
graph ends with a D x D initializer too; 256 px swappers whose source needs a converter
network (SimSwap, HyperSwap exports) are not supported here.

Pixel boost: to get a ``k * size`` output (k = 2 or 4), the ``k * size`` crop is cut into
its k x k pixel-shuffle sub-images (``crop[i::k, j::k]``, each ``size`` x ``size``, the same
face sampled on a shifted grid), each is swapped, and the results are interleaved back.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from reelsmith.errors import InputError, ModelError
from reelsmith.models.descriptor import FACE_SWAP
from reelsmith.models.face_restorers import from_nchw, resize_square, to_nchw
from reelsmith.models.loader import wrong_purpose
from reelsmith.models.select import select_model
from reelsmith.models.shapes import ConditionedImageModel

#: ArcFace's five points on its 112 px crop (InsightFace ``arcface_dst``).
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)
PIXEL_BOOST_FACTORS = (1, 2, 4)


def arcface_128_points(size: int) -> np.ndarray:
    """InsightFace's alignment target for a ``size`` crop when ``size`` is a multiple of 128:
    the 112 px ArcFace points scaled by size/128 and shifted right by 8 * size/128."""
    ratio = size / 128.0
    pts = ARCFACE_112 * ratio
    pts[:, 0] += 8.0 * ratio
    return pts


@functools.lru_cache(maxsize=4)
def _last_initializer(path: str, mtime_ns: int, dim: int) -> np.ndarray | None:
    """The graph's last initializer when it is a ``dim`` x ``dim`` matrix (inswapper's emap)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise ModelError("Reading an inswapper graph's embedding map needs the onnx "
                         "package: pip install 'reelsmith[onnx]'.") from exc
    graph = onnx.load(path, load_external_data=False).graph
    if not graph.initializer:
        return None
    emap = numpy_helper.to_array(graph.initializer[-1])
    if emap.shape != (dim, dim):
        return None
    return np.ascontiguousarray(emap, dtype=np.float32)


def embedding_map(model: ConditionedImageModel) -> np.ndarray | None:
    """inswapper's emap for an ONNX swapper whose graph carries one; None otherwise."""
    d = model.descriptor
    if d.format != "onnx" or d.path is None or not model.embedding_size:
        return None
    path = Path(d.path)
    return _last_initializer(str(path.resolve()), path.stat().st_mtime_ns, model.embedding_size)


class FaceSwapper:
    """Swaps the identity of aligned target crops with a :class:`ConditionedImageModel`.

    ``size``: the model's native side; ``output_size``: the crop side :meth:`swap` works on
    (``size`` x the pixel boost factor); ``template``: the alignment the crop must have;
    ``embedding``: the identity embedding :meth:`swap` takes ("arcface": a 512-value
    ArcFace embedding, as :mod:`reelsmith.analysis.faces.identity` gives).
    """

    embedding = "arcface"

    def __init__(self, model: ConditionedImageModel, *, pixel_boost: int | None = None) -> None:
        if not isinstance(model, ConditionedImageModel) or model.purpose != FACE_SWAP:
            raise ModelError(wrong_purpose(model.name, model.purpose, FACE_SWAP))
        self.model = model
        self.name = model.name
        self.backend = model.backend
        fixed = model.descriptor.fixed_size
        self.size = int(fixed[0]) if fixed else 128
        self.template = "arcface_128" if self.size % 128 == 0 else "arcface"
        self.emap = embedding_map(model)
        side = int(pixel_boost or self.size)
        k = side // self.size
        if side % self.size or k not in PIXEL_BOOST_FACTORS:
            raise InputError(f"Pixel boost {pixel_boost} is not possible with {self.name!r}: "
                             f"use {', '.join(str(self.size * f) for f in PIXEL_BOOST_FACTORS)}.")
        self.boost = k
        self.output_size = side

    def template_points(self, size: int | None = None) -> np.ndarray:
        """The five alignment points (ArcFace order) for a crop of ``size`` (default
        ``output_size``)."""
        side = int(size or self.output_size)
        if self.template == "arcface_128":
            return arcface_128_points(side)
        return ARCFACE_112 * (side / 112.0)

    def latent(self, embedding: np.ndarray) -> np.ndarray:
        """The model's source row for an identity embedding: L2-normalised, mapped through
        the graph's emap when it has one, normalised again (InsightFace's recipe)."""
        e = np.asarray(embedding, dtype=np.float32).reshape(-1)
        want = self.model.embedding_size
        if want and e.size != want:
            raise InputError(f"The model {self.name!r} takes {want}-value {self.embedding} "
                             f"embeddings; got {e.size} values.")
        n = float(np.linalg.norm(e))
        if not np.isfinite(n) or n < 1e-12:
            raise InputError("The source embedding is zero or not finite.")
        e = e / n
        if self.emap is not None:
            e = e @ self.emap
            e = e / max(float(np.linalg.norm(e)), 1e-12)
        return e[None].astype(np.float32)

    def swap(self, crop: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """An aligned HxWx3 uint8 RGB target crop and the source embedding -> the swapped
        crop, same size. A crop whose side is not ``output_size`` is resized to it and back."""
        if crop.ndim != 3 or crop.shape[0] != crop.shape[1]:
            raise InputError(f"A face crop must be square HxWx3; got {crop.shape}.")
        side = crop.shape[0]
        x = to_nchw(resize_square(crop, self.output_size))
        latent = self.latent(embedding)
        k = self.boost
        if k == 1:
            y = self.model(x, latent)
        else:
            subs = np.concatenate([x[:, :, i::k, j::k] for i in range(k) for j in range(k)])
            out = self.model(np.ascontiguousarray(subs), np.repeat(latent, k * k, axis=0))
            y = np.empty_like(x)
            for n, (i, j) in enumerate((i, j) for i in range(k) for j in range(k)):
                y[0, :, i::k, j::k] = out[n]
        return resize_square(from_nchw(y), side)

    def describe(self) -> dict:
        info = self.model.describe()
        info.update({"crop_size": self.size, "output_size": self.output_size,
                     "pixel_boost": self.boost, "template": self.template,
                     "embedding": self.embedding, "embedding_map": self.emap is not None,
                     "licence": self.model.descriptor.extra.get("licence")})
        return info


def select_face_swapper(spec: str, *, pixel_boost: int | None = None, device: str = "auto",
                        precision: str = "auto") -> FaceSwapper | None:
    """``spec``: "auto" (best installed face swapper; None when there is none), "builtin"
    (None: the built-in landmark warp), a catalog/installed name or a file path.
    ``pixel_boost``: the output crop side (2 or 4 times the model's, e.g. 256 or 512 for
    inswapper_128); None: the model's own. Raises ModelError as :func:`select.select_model`
    does, InputError for an impossible pixel boost."""
    model = select_model(spec, FACE_SWAP, device=device, precision=precision)
    if model is None:
        return None
    return FaceSwapper(model, pixel_boost=pixel_boost)
