"""Model file formats by suffix: the one place that says which files are models.

The models directory (:mod:`store`), import (:mod:`install`) and the loader all read these
tuples, so a new weight format is added here once.
"""

from __future__ import annotations

ONNX_SUFFIXES = (".onnx",)
#: Opened by the PyTorch backend (safetensors, or ``torch.load(weights_only=True)``).
TORCH_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt", ".bin", ".pkl")
MODEL_SUFFIXES = ONNX_SUFFIXES + TORCH_SUFFIXES


def is_model_file(name: str) -> bool:
    """True when ``name`` ends in a model suffix (case-insensitive)."""
    return name.lower().endswith(MODEL_SUFFIXES)
