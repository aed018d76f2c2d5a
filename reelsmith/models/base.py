"""The one call contract every backend implements.

``LoadedModel`` wraps a model file opened by a backend. Image models take and return
float32 NCHW arrays in [0, 1] (``run``); interpolation models take two such frames and a
timestep (``run_pair``). Tiling, dtype conversion and padding to the model's size needs
live above this layer (``adapters``/``tiling``); the backend only runs tensors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from reelsmith.errors import ModelError
from reelsmith.models.descriptor import INTERPOLATE, ModelDescriptor


class LoadedModel(ABC):
    """A model ready to run. ``backend``: "onnxruntime" or "pytorch"; ``provider``: the
    execution provider / device actually used; ``precision``: "fp32", "fp16" or "bf16"."""

    descriptor: ModelDescriptor
    backend: str
    provider: str
    precision: str
    device: str  # "cpu" or "cuda": what the tiler sizes tiles for
    max_batch: int | None = None  # None: any batch size

    @property
    def name(self) -> str:
        return self.descriptor.name

    @property
    def purpose(self) -> str:
        return self.descriptor.purpose

    @property
    def scale(self) -> int:
        return self.descriptor.scale

    def run(self, x: np.ndarray) -> np.ndarray:
        """Image models: NCHW float32 [0,1] -> NCHW float32 [0,1] (spatially x scale)."""
        raise ModelError(f"The model {self.name!r} is an {self.purpose} model; it does not "
                         "take a single image.")

    def run_pair(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        """Interpolation models: two NCHW float32 frames and t in [0,1] -> the frame at t."""
        raise ModelError(f"The model {self.name!r} is an {self.purpose} model, not a frame "
                         "interpolation model.")

    def __call__(self, *arrays: np.ndarray, timestep: float = 0.5) -> np.ndarray:
        if self.purpose == INTERPOLATE:
            if len(arrays) != 2:
                raise ModelError("An interpolation model takes two frames and a timestep.")
            return self.run_pair(arrays[0], arrays[1], timestep)
        if len(arrays) != 1:
            raise ModelError(f"The {self.purpose} model {self.name!r} takes one image batch.")
        return self.run(arrays[0])

    def describe(self) -> dict:
        d = self.descriptor
        return {
            "name": d.name, "purpose": d.purpose, "architecture": d.architecture,
            "backend": self.backend, "provider": self.provider, "precision": self.precision,
            "scale": d.scale, "format": d.format, "path": str(d.path) if d.path else None,
            "tile_size": None,  # the adapters (ModelUpscaler) fill in the tile size they used
        }

    @abstractmethod
    def close(self) -> None:
        """Release the session/weights (cached sessions stay cached)."""
