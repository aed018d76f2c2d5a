"""Neural model loading and calling: ONNX Runtime and PyTorch backends, the catalog,
the models directory, tiled inference.

Entry points::

    from reelsmith.models import select_upscaler, select_interpolator, load_model
    up = select_upscaler("auto", scale=2)        # None: no model installed, use the classical op
    if up is not None:
        big = up.upscale(frame_rgb_uint8)
        meta = up.describe()                     # name, backend, provider, precision, tile size

Heavy imports (onnxruntime, torch) happen only when a model is loaded.
"""

from __future__ import annotations

from reelsmith.models.adapters import (
    ModelInterpolator,
    ModelUpscaler,
    PairState,
    select_interpolator,
    select_upscaler,
)
from reelsmith.models.base import LoadedModel
from reelsmith.models.catalog import CatalogEntry, get_entry, load_catalog
from reelsmith.models.descriptor import (
    COLORIZE,
    FACE_RESTORE,
    INTERPOLATE,
    PURPOSES,
    RESTORE,
    UPSCALE,
    ModelDescriptor,
)
from reelsmith.models.loader import load_model
from reelsmith.models.store import import_model, installed_models, models_dir, verify

__all__ = [
    "COLORIZE", "FACE_RESTORE", "INTERPOLATE", "PURPOSES", "RESTORE", "UPSCALE",
    "CatalogEntry", "LoadedModel", "ModelDescriptor", "ModelInterpolator", "ModelUpscaler",
    "PairState", "get_entry", "import_model", "installed_models", "load_catalog", "load_model",
    "models_dir", "select_interpolator", "select_upscaler", "verify",
]
