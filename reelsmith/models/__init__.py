"""Neural model loading and calling: ONNX Runtime and PyTorch backends, the catalog,
the models directory, tiled inference.

Entry points::

    from reelsmith.models import select_upscaler, select_model, load_model, UPSCALE
    up = select_upscaler("auto", scale=2)        # None: no model installed, use the classical op
    if up is not None:
        big = up.upscale(frame_rgb_uint8)
        meta = up.describe()                     # name, backend, provider, precision, tile size
    model = select_model("auto", UPSCALE)        # the ImageModel itself (or None)

Every loaded model is one call shape (:mod:`shapes`): ImageModel, InterpolationModel,
ConditionedImageModel, DetectionModel, EmbeddingModel or SegmentationModel. The face
workflows use ``select_face_restorer`` / ``select_face_swapper`` (aligned crops in and
out). Modules, lowest first: descriptor, formats, catalog -> store -> base/shapes ->
normalise -> onnx_backend/onnx_models, torch_backend -> loader -> select, install ->
adapters, face_restorers, face_swappers. Heavy imports (onnxruntime, torch) happen only when a model
is loaded.
"""

from __future__ import annotations

from reelsmith.models.adapters import (
    ModelInterpolator,
    ModelUpscaler,
    TensorPair,
    select_interpolator,
    select_upscaler,
)
from reelsmith.models.base import LoadedModel
from reelsmith.models.catalog import CatalogEntry, get_entry, load_catalog
from reelsmith.models.descriptor import (
    COLORIZE,
    FACE_DETECT,
    FACE_EMBED,
    FACE_PARSE,
    FACE_RESTORE,
    FACE_SWAP,
    INTERPOLATE,
    PURPOSES,
    RESTORE,
    UPSCALE,
    ModelDescriptor,
)
from reelsmith.models.face_restorers import FaceRestorer, select_face_restorer
from reelsmith.models.face_swappers import FaceSwapper, select_face_swapper
from reelsmith.models.install import import_model, record_dropped_files
from reelsmith.models.loader import load_model
from reelsmith.models.select import BUILTIN_SPECS, select_model
from reelsmith.models.shapes import (
    ConditionedImageModel,
    DetectionModel,
    EmbeddingModel,
    ImageModel,
    InterpolationModel,
    SegmentationModel,
    shape_for,
)
from reelsmith.models.store import installed_models, models_dir, verify

__all__ = [
    "BUILTIN_SPECS", "COLORIZE", "FACE_DETECT", "FACE_EMBED", "FACE_PARSE", "FACE_RESTORE",
    "FACE_SWAP", "INTERPOLATE", "PURPOSES", "RESTORE", "UPSCALE",
    "CatalogEntry", "ConditionedImageModel", "DetectionModel", "EmbeddingModel",
    "FaceRestorer", "FaceSwapper", "ImageModel", "SegmentationModel",
    "select_face_restorer", "select_face_swapper",
    "InterpolationModel", "LoadedModel", "ModelDescriptor", "ModelInterpolator",
    "ModelUpscaler", "TensorPair", "get_entry", "import_model", "installed_models",
    "load_catalog", "load_model", "models_dir", "record_dropped_files", "select_interpolator",
    "select_model", "select_upscaler", "shape_for", "verify",
]
