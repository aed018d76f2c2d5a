"""ONNX Runtime sessions: which providers, how many threads, one cached session per file.

- Providers: TensorRT > CUDA > CPU among those this onnxruntime build offers; the
  ``ort_providers`` setting (``REELSMITH_ORT_PROVIDERS=cuda,cpu``) or ``device="cpu"``
  changes the order.
- One ``InferenceSession`` per (file, providers, threads) per process, cached.
- Threads: the ``ort_threads`` setting, else ``threads``, else all cores (intra-op).

The model classes that run these sessions, one per call shape, are in ``onnx_models.py``.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from reelsmith.config import get_settings
from reelsmith.errors import ModelError

log = logging.getLogger(__name__)

PROVIDER_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
DEFAULT_ORDER = ("tensorrt", "cuda", "cpu")
GPU_PROVIDERS = {"tensorrt", "cuda", "rocm", "dml", "coreml"}

_SESSIONS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def _ort():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError("ONNX models need onnxruntime: pip install 'reelsmith[onnx]' "
                         "(or onnxruntime-gpu for CUDA/TensorRT).") from exc
    return onnxruntime


def provider_order() -> list[str]:
    order = [p.lower() for p in get_settings().ort_providers] or list(DEFAULT_ORDER)
    unknown = [p for p in order if p not in PROVIDER_NAMES]
    if unknown:
        raise ModelError(f"Unknown ONNX Runtime provider(s) {unknown} in REELSMITH_ORT_PROVIDERS; "
                         f"known: {', '.join(PROVIDER_NAMES)}.")
    return order


def choose_providers(device: str = "auto") -> list[str]:
    """Provider names (ORT spelling) in preference order for ``device``
    ("auto", "cpu", "cuda"/"gpu", or a provider alias such as "tensorrt")."""
    available = set(_ort().get_available_providers())
    order = provider_order()
    device = (device or "auto").lower()
    if device == "cpu":
        wanted = ["cpu"]
    elif device in ("cuda", "gpu") or device.startswith("cuda:"):
        wanted = [p for p in order if p in GPU_PROVIDERS] or ["tensorrt", "cuda"]
    elif device in PROVIDER_NAMES:
        wanted = [device]
    elif device == "auto":
        wanted = order
    else:
        raise ModelError(f"Unknown device {device!r}; use auto, cpu, cuda or a provider name.")
    chosen = [PROVIDER_NAMES[p] for p in wanted if PROVIDER_NAMES[p] in available]
    if not chosen:
        raise ModelError(
            f"No ONNX Runtime provider for device {device!r} is available in this install "
            f"(available: {', '.join(sorted(available))}); install onnxruntime-gpu for CUDA.")
    if device == "auto" and PROVIDER_NAMES["cpu"] not in chosen and PROVIDER_NAMES["cpu"] in available:
        chosen.append(PROVIDER_NAMES["cpu"])
    return chosen


def thread_count() -> int:
    s = get_settings()
    n = s.ort_threads or s.threads
    return n if n > 0 else max(1, os.cpu_count() or 1)


def _cache_dir() -> Path:
    from reelsmith.models.store import models_dir

    return models_dir() / ".trt_cache"


def get_session(path: Path, providers: list[str], *, fp16: bool = False):
    """A cached InferenceSession for ``path`` with ``providers``."""
    ort = _ort()
    st = path.stat()
    threads = thread_count()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, tuple(providers), threads, fp16)
    with _LOCK:
        sess = _SESSIONS.get(key)
        if sess is not None:
            return sess
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        prov_args: list[Any] = []
        for p in providers:
            if p == PROVIDER_NAMES["tensorrt"]:
                cache = _cache_dir()
                cache.mkdir(parents=True, exist_ok=True)
                prov_args.append((p, {"trt_fp16_enable": bool(fp16),
                                      "trt_engine_cache_enable": True,
                                      "trt_engine_cache_path": str(cache)}))
            else:
                prov_args.append(p)
        try:
            sess = ort.InferenceSession(str(path), sess_options=opts, providers=prov_args)
        except Exception as exc:  # noqa: BLE001 - ORT raises several private types
            raise ModelError(f"ONNX Runtime could not load {path.name}: "
                             f"{str(exc).strip().splitlines()[0][:300]}") from exc
        _SESSIONS[key] = sess
        return sess


def clear_session_cache() -> None:
    with _LOCK:
        _SESSIONS.clear()
