"""Loading a diffusers pipeline from local files only, with a small cache.

A source is either a diffusers folder (``model_index.json`` and one sub-folder per component)
loaded with ``from_pretrained``, or a single ``.safetensors``/``.ckpt`` checkpoint loaded with
``from_single_file`` together with a local folder holding the pipeline's configuration (the
model_index.json and the components' config files; ``config``). Every diffusers call is made
with ``local_files_only=True`` and local paths only, so nothing is ever fetched (the
environment is not touched: only config.py reads it). An incomplete folder is refused before
diffusers sees it, with the list of what is missing.

Loaded pipelines are kept in an LRU of ``CACHE_SIZE`` entries keyed by (class, source, config,
device, dtype): loading SDXL takes many seconds and a GPU holds at most a couple of them.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelsmith.errors import ModelError
from reelsmith.models.diffusion.memory import MemoryPlan, apply_plan, free_memory, model_bytes, plan_memory

CACHE_SIZE = 2
INSTALL_HINT = "pip install 'reelsmith[diffusion]'"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}

_cache: OrderedDict[tuple, LoadedPipeline] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass
class LoadedPipeline:
    pipe: Any
    pipeline_class: str
    source: Path
    device: str
    dtype: str  # "fp32" | "fp16" | "bf16"
    plan: MemoryPlan
    lock: threading.Lock = field(default_factory=threading.Lock)  # one call on a pipeline at a time

    def describe(self) -> dict:
        return {"pipeline": self.pipeline_class, "source": str(self.source), "device": self.device,
                "dtype": self.dtype, "memory": self.plan.to_dict()}


def diffusers_missing() -> str | None:
    """A sentence saying what to install when diffusers/transformers/torch are absent, else None."""
    import importlib.util

    missing = [m for m in ("torch", "diffusers", "transformers") if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return (f"The diffusion backend needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            f"not installed: run {INSTALL_HINT}.")


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"Device {device!r} was asked for but no CUDA GPU is available; use "
                         "device auto or cpu.")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    if dtype == "auto":
        if device.startswith("cuda"):
            return "fp16"  # SDXL and its VAE fix are published for fp16
        return "fp32"
    if dtype not in _DTYPES:
        raise ModelError(f"Unknown precision {dtype!r}; use auto, fp32, fp16 or bf16.")
    if dtype != "fp32" and device == "cpu":
        return "fp32"  # half precision on the CPU is slow and unsupported by many ops
    return dtype


def folder_problems(folder: Path) -> list[str]:
    """What a diffusers pipeline folder lacks ([] when complete)."""
    index = folder / "model_index.json"
    if not index.is_file():
        return [f"{index} (the pipeline's index)"]
    try:
        spec = json.loads(index.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return [f"a readable {index} ({exc})"]
    out = []
    for name, value in spec.items():
        if name.startswith("_") or not isinstance(value, list) or value[0] is None:
            continue
        sub = folder / name
        library, cls = value[0], value[1]
        if not sub.is_dir():
            out.append(f"{sub}/ ({cls})")
            continue
        if "Tokenizer" in str(cls) or "Scheduler" in str(cls) or "Processor" in str(cls) or "Extractor" in str(cls):
            if not any(sub.glob("*.json")):
                out.append(f"{sub}/ config files ({cls})")
            continue
        if library in ("diffusers", "transformers"):
            if not (sub / "config.json").is_file():
                out.append(f"{sub}/config.json ({cls})")
            if not any(p.suffix in _WEIGHT_SUFFIXES for p in sub.iterdir()):
                out.append(f"{sub}/ weights (.safetensors) ({cls})")
    return out


def _pipeline_type(name: str) -> Any:
    import diffusers

    cls = getattr(diffusers, name, None)
    if cls is None:
        raise ModelError(f"diffusers {diffusers.__version__} has no pipeline {name!r}; upgrade "
                         f"with {INSTALL_HINT}.")
    return cls


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No diffusers/transformers loading bars on the user's terminal while a pipeline loads
    (the job reports its own progress); each library's previous setting is restored."""
    from diffusers.utils import logging as dlog

    libs = [dlog]
    try:
        from transformers.utils import logging as tlog

        libs.append(tlog)
    except ImportError:
        pass
    was = [lib.is_progress_bar_enabled() for lib in libs]
    for lib in libs:
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib, on in zip(libs, was, strict=True):
            if on:
                lib.enable_progress_bar()


def _load(cls: Any, source: Path, config: Path | None, torch_dtype: Any) -> Any:
    with _quiet_loading():
        return _load_files(cls, source, config, torch_dtype)


def _load_files(cls: Any, source: Path, config: Path | None, torch_dtype: Any) -> Any:
    if source.is_dir():
        problems = folder_problems(source)
        if problems:
            raise ModelError(f"The pipeline folder {source} is incomplete; missing: "
                             f"{'; '.join(problems)}. Copy the whole folder again from its source.")
        return cls.from_pretrained(source, dtype=torch_dtype, local_files_only=True)
    if source.suffix.lower() not in (".safetensors", ".ckpt"):
        raise ModelError(f"{source} is neither a diffusers folder nor a .safetensors/.ckpt checkpoint.")
    if config is None or not (config / "model_index.json").is_file():
        where = config or source.with_name(source.stem + "-config")
        raise ModelError(f"The single-file checkpoint {source.name} needs the pipeline's configuration "
                         f"next to it: place the model_index.json and the components' config files "
                         f"of the same pipeline (its diffusers folder without the weights) in {where}/.")
    return cls.from_single_file(str(source), config=str(config), dtype=torch_dtype,
                                local_files_only=True)


def load_pipeline(pipeline_class: str, source: Path, *, config: Path | None = None,
                  device: str = "auto", dtype: str = "auto",
                  pixels: int = 1024 * 1024) -> LoadedPipeline:
    """The diffusers pipeline ``pipeline_class`` (e.g. "StableDiffusionXLInpaintPipeline") from
    ``source`` (a folder or a single checkpoint + ``config`` folder), placed on ``device`` with
    a memory plan for images of ``pixels`` pixels. Cached. Raises ModelError for a missing
    library, a missing or incomplete source, or weights diffusers cannot read."""
    why = diffusers_missing()
    if why:
        raise ModelError(why)
    import torch

    source = Path(source).expanduser().resolve()
    if not source.exists():
        raise ModelError(f"The pipeline weights {source} do not exist.")
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    key = (pipeline_class, str(source), str(config) if config else None, dev, dt)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    cls = _pipeline_type(pipeline_class)
    try:
        pipe = _load(cls, source, Path(config).expanduser().resolve() if config else None,
                     getattr(torch, _DTYPES[dt]))
    except ModelError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, AttributeError) as exc:
        raise ModelError(f"diffusers could not load {pipeline_class} from {source}: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}. Check that "
                         "the files are complete and belong to this kind of pipeline.") from exc
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    free, total = free_memory(dev)
    plan = plan_memory(free, total, model_bytes(pipe), pixels)
    apply_plan(pipe, plan, dev)
    loaded = LoadedPipeline(pipe, pipeline_class, source, dev, dt, plan)
    with _cache_lock:
        _cache[key] = loaded
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return loaded


def clear_cache() -> None:
    """Forget every cached pipeline (tests; freeing memory)."""
    with _cache_lock:
        _cache.clear()
