"""ONNX Runtime backend.

- Providers: TensorRT > CUDA > CPU among those this onnxruntime build offers; override the
  order with ``REELSMITH_ORT_PROVIDERS`` (e.g. ``cuda,cpu``) or ``device="cpu"``.
- One ``InferenceSession`` per (file, providers, threads) per process, cached.
- Threads: ``REELSMITH_ORT_THREADS``, else ``Settings.threads``, else all cores (intra-op).
- fp16 graphs (float16 inputs) are fed float16; outputs come back as float32.
- Fixed input shapes are reported in the descriptor (tiles are cut/padded to them); dynamic
  shapes take any size. Purpose and scale come from the graph's inputs and a probe run when
  the catalog does not say.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from reelsmith.config import get_settings
from reelsmith.errors import ModelError
from reelsmith.models.base import LoadedModel
from reelsmith.models.descriptor import INTERPOLATE, RESTORE, UPSCALE, ModelDescriptor
from reelsmith.models.tiling import is_out_of_memory

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


_NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
             "tensor(double)": np.float64, "tensor(bfloat16)": None}


def _is_time_input(inp) -> bool:
    name = inp.name.lower()
    shape = inp.shape
    if "time" in name or name in ("t", "ts", "dt"):
        return True
    return len(shape) < 4 or (isinstance(shape[1], int) and shape[1] == 1)


class OnnxModel(LoadedModel):
    backend = "onnxruntime"

    def __init__(self, path: Path, *, name: str | None = None, purpose: str | None = None,
                 scale: int | None = None, size_multiple: int | None = None,
                 device: str = "auto", precision: str = "auto") -> None:
        self.path = Path(path)
        want_fp16 = precision == "fp16"
        providers = choose_providers(device)
        self.session = get_session(self.path, providers, fp16=want_fp16)
        self.provider = self.session.get_providers()[0]
        self.device = "cpu" if self.provider == PROVIDER_NAMES["cpu"] else "cuda"
        inputs = self.session.get_inputs()
        self._inputs = inputs
        self._output = self.session.get_outputs()[0].name
        dtypes = {_NP_TYPES.get(i.type, np.float32) for i in inputs}
        if None in dtypes:
            raise ModelError(f"{self.path.name} takes bfloat16 inputs, which ONNX Runtime "
                             "cannot feed from numpy; export it as fp32 or fp16.")
        self._in_dtype = np.float16 if np.float16 in dtypes else np.float32
        graph_fp16 = self._in_dtype == np.float16
        if precision in ("fp16", "bf16") and not graph_fp16 and self.provider != PROVIDER_NAMES["tensorrt"]:
            log.warning("%s is an fp32 graph; running it in fp32 on %s", self.path.name,
                        self.provider)
        if graph_fp16 or (want_fp16 and self.provider == PROVIDER_NAMES["tensorrt"]):
            self.precision = "fp16"
        else:
            self.precision = "fp32"
        self._layout = self._classify(inputs)
        first = inputs[0].shape
        self.max_batch = first[0] if isinstance(first[0], int) and first[0] > 0 else None
        fixed = None
        if len(first) == 4 and isinstance(first[2], int) and isinstance(first[3], int) \
                and first[2] > 0 and first[3] > 0:
            fixed = (first[2], first[3])
        is_interp = self._layout != "image"
        in_ch = first[1] if len(first) == 4 and isinstance(first[1], int) else 3
        if purpose is None:
            purpose = INTERPOLATE if is_interp else None
        elif (purpose == INTERPOLATE) != is_interp:
            kind = "frame interpolation" if is_interp else "single-image"
            raise ModelError(f"{self.path.name} is a {kind} model (inputs: "
                             f"{', '.join(i.name for i in inputs)}), not a {purpose} model.")
        multiple = size_multiple or (32 if is_interp else 1)
        self.descriptor = ModelDescriptor(
            name=name or self.path.stem, purpose=purpose or UPSCALE, scale=scale or 1,
            path=self.path, format="onnx", architecture="onnx graph",
            in_channels=3 if is_interp else in_ch, out_channels=3,
            supports_tiling=not is_interp, precisions=(self.precision,),
            size_multiple=multiple, fixed_size=fixed,
            extra={"inputs": [f"{i.name}{list(i.shape)}:{i.type}" for i in inputs]},
        )
        if not is_interp and (scale is None or purpose is None):
            self._probe(purpose)

    # -- graph inspection -------------------------------------------------------------
    def _classify(self, inputs) -> str:
        if len(inputs) == 1:
            shape = inputs[0].shape
            if len(shape) != 4:
                raise ModelError(f"{self.path.name}: input {inputs[0].name} has shape "
                                 f"{shape}; expected NCHW.")
            ch = shape[1]
            if isinstance(ch, int) and ch in (6, 7):
                return "concat7" if ch == 7 else "concat6"
            return "image"
        images = [i for i in inputs if not _is_time_input(i)]
        times = [i for i in inputs if _is_time_input(i)]
        if len(images) == 2 and len(times) <= 1:
            self._img_names = [images[0].name, images[1].name]
            self._time_input = times[0] if times else None
            return "pair"
        if len(images) == 1 and len(times) == 1 and images[0].shape[1] in (6, "6"):
            self._img_names = [images[0].name]
            self._time_input = times[0]
            return "concat6+t"
        raise ModelError(f"{self.path.name}: unrecognised inputs "
                         f"{[(i.name, i.shape) for i in inputs]}; expected one NCHW image, or "
                         "img0, img1 and timestep.")

    def _probe(self, purpose: str | None) -> None:
        d = self.descriptor
        if d.fixed_size:
            ph, pw = d.fixed_size
        else:
            ph = pw = max(64, d.size_multiple)
        x = np.full((1, d.in_channels, ph, pw), 0.5, dtype=np.float32)
        y = self.run(x)
        sy, sx = y.shape[2] / ph, y.shape[3] / pw
        if sy != sx or sy < 1 or sy != int(sy):
            raise ModelError(f"{self.path.name}: output {y.shape[2]}x{y.shape[3]} for a "
                             f"{ph}x{pw} input is not an integer upscale; architecture not "
                             "recognised.")
        d.scale = int(sy)
        d.out_channels = int(y.shape[1])
        if purpose is None:
            d.purpose = UPSCALE if d.scale > 1 else RESTORE

    # -- running ------------------------------------------------------------------------
    def _exec(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        try:
            out = self.session.run([self._output], feeds)[0]
        except Exception as exc:  # noqa: BLE001
            if is_out_of_memory(exc):
                raise
            raise ModelError(f"ONNX Runtime failed running {self.path.name}: "
                             f"{str(exc).strip().splitlines()[0][:300]}") from exc
        return np.asarray(out, dtype=np.float32)

    def run(self, x: np.ndarray) -> np.ndarray:
        if self._layout != "image":
            return super().run(x)
        if self.max_batch and x.shape[0] != self.max_batch:
            return np.concatenate([self.run(x[i:i + 1]) for i in range(x.shape[0])])
        return self._exec({self._inputs[0].name: x.astype(self._in_dtype, copy=False)})

    def _time_value(self, inp, t: float, n: int, h: int, w: int) -> np.ndarray:
        shape = inp.shape
        dt = _NP_TYPES.get(inp.type, np.float32) or np.float32
        if len(shape) == 4:
            full = not (isinstance(shape[2], int) and shape[2] == 1)
            return np.full((n, 1, h, w) if full else (n, 1, 1, 1), t, dtype=dt)
        if len(shape) == 0:
            return np.asarray(t, dtype=dt)
        return np.full([n] + [1] * (len(shape) - 1), t, dtype=dt)

    def run_pair(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        if self._layout == "image":
            return super().run_pair(a, b, t)
        n, _, h, w = a.shape
        dt = self._in_dtype
        if self._layout == "concat7":
            x = np.concatenate([a, b, np.full((n, 1, h, w), t, np.float32)], axis=1)
            return self._exec({self._inputs[0].name: x.astype(dt)})
        if self._layout == "concat6":
            if abs(t - 0.5) > 1e-6:
                raise ModelError(f"{self.path.name} only makes the middle frame (t=0.5); "
                                 f"t={t} was asked.")
            return self._exec({self._inputs[0].name: np.concatenate([a, b], 1).astype(dt)})
        feeds: dict[str, np.ndarray] = {}
        if self._layout == "concat6+t":
            feeds[self._img_names[0]] = np.concatenate([a, b], 1).astype(dt)
        else:
            feeds[self._img_names[0]] = a.astype(dt)
            feeds[self._img_names[1]] = b.astype(dt)
        if self._time_input is not None:
            feeds[self._time_input.name] = self._time_value(self._time_input, t, n, h, w)
        return self._exec(feeds)

    def describe(self) -> dict:
        info = super().describe()
        info["threads"] = thread_count() if self.device == "cpu" else None
        return info

    def close(self) -> None:
        self.session = None
