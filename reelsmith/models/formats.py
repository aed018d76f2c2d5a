"""Model file formats by suffix: the one place that says which files are models.

The models directory (:mod:`store`), import (:mod:`install`) and the loader all read these
tuples, so a new weight format is added here once.

ncnn models are a pair: ``name.param`` (the graph) and ``name.bin`` (the weights). The
``.param`` is the model file; a ``.bin`` with a ``.param`` of the same name beside it is
that pair's weights (any other ``.bin`` is a PyTorch checkpoint).
"""

from __future__ import annotations

from pathlib import Path

ONNX_SUFFIXES = (".onnx",)
#: Opened by the PyTorch backend (safetensors, or ``torch.load(weights_only=True)``).
TORCH_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt", ".bin", ".pkl")
#: ncnn graphs; converted to PyTorch weights (:mod:`ncnn_convert`) and run by that backend.
NCNN_SUFFIXES = (".param",)
MODEL_SUFFIXES = ONNX_SUFFIXES + TORCH_SUFFIXES + NCNN_SUFFIXES


def is_model_file(name: str) -> bool:
    """True when ``name`` ends in a model suffix (case-insensitive)."""
    return name.lower().endswith(MODEL_SUFFIXES)


def is_ncnn_weights(path: Path) -> bool:
    """True for the ``.bin`` half of an ncnn pair (its ``.param`` lies beside it)."""
    path = Path(path)
    return path.suffix.lower() == ".bin" and path.with_suffix(".param").is_file()


def is_ncnn(path: Path) -> bool:
    """True for either file of an ncnn pair: a ``.param``, or a ``.bin`` beside one."""
    path = Path(path)
    return path.suffix.lower() in NCNN_SUFFIXES or is_ncnn_weights(path)
