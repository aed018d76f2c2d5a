"""What every opened model has, whatever its call shape or backend.

``LoadedModel`` is the backend-level part: the descriptor, which backend and execution
provider run it, its precision and device, and how it may be called from threads. It has
no ``run``: each call shape (image -> image, frame pair + t -> frame, image + embedding ->
image, image -> detections) is its own small subclass in :mod:`shapes`, so calling a model
the wrong way fails where it is wired, not halfway through a video.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from reelsmith.models.descriptor import ModelDescriptor


class LoadedModel(ABC):
    """A model ready to run. ``backend``: "onnxruntime" or "pytorch"; ``provider``: the
    execution provider / device actually used; ``precision``: "fp32", "fp16" or "bf16".

    Threads: ``thread_safe`` says whether ``run`` may be entered from several threads at
    once; ``workers`` is how many threads a streaming stage should feed it from. Every
    backend today answers 1: a session already uses all cores (or one accelerator stream)
    inside one call, so more callers only queue.
    """

    descriptor: ModelDescriptor
    backend: str
    provider: str
    precision: str
    device: str  # "cpu" or "cuda": what the tiler sizes tiles for
    max_batch: int | None = None  # None: any batch size
    thread_safe: bool = False
    workers: int = 1

    @property
    def name(self) -> str:
        return self.descriptor.name

    @property
    def purpose(self) -> str:
        return self.descriptor.purpose

    @property
    def scale(self) -> int:
        return self.descriptor.scale

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
