"""PyTorch backend: .pth/.pt/.pkl/.safetensors through spandrel, and RIFE through
:mod:`reelsmith.models.rife` (4.x) or :mod:`reelsmith.models.rife_v3` (v3.x, HDv3). ncnn
Real-ESRGAN pairs (.param + .bin) are converted in memory by
:mod:`reelsmith.models.ncnn_convert` and loaded through spandrel like a .pth; a graph that
ends in a resize (realesr-animevideov3 x2/x3) keeps it (:class:`ResizedOutput`).

Safe loading only: ``.safetensors`` via safetensors, everything else (Practical-RIFE's
``flownet.pkl`` included: it is a ``torch.save`` pickle of a state dict) via
``torch.load(weights_only=True)``, which refuses any pickle that is more than tensors and
plain containers -- no code from a model file is ever executed.

Face restorers (spandrel's "FaceSR" purpose) take an aligned 512 x 512 crop
(``fixed_size``). spandrel calls GFPGAN and CodeFormer raw: their weights were trained on
[-1, 1] pixels and return [-1, 1] (spandrel's RestoreFormer wrapper converts by itself), so
:class:`FaceRestoreCall` converts at the edge and bypasses spandrel's [0, 1] clamp, which
would cut the dark half of the output away. CodeFormer's fidelity weight ``w`` is the
``weight`` argument of its forward (:meth:`TorchImageModel.configure`).

RIFE run options (:meth:`TorchInterpolationModel.configure`): ``scale`` (flow estimation
scale, 0.5 for 4K) and ``ensemble``; the model's description reports them and the
training-only tensors its checkpoint carried (``ignored_keys``).
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from reelsmith.errors import ModelError
from reelsmith.models.descriptor import (
    FACE_RESTORE,
    INTERPOLATE,
    RESTORE,
    UPSCALE,
    ModelDescriptor,
)
from reelsmith.models.formats import is_ncnn
from reelsmith.models.ncnn_convert import META_OUTPUT_SCALE, META_SOURCE, convert_ncnn
from reelsmith.models.shapes import ImageModel, InterpolationModel
from reelsmith.models.tiling import is_out_of_memory

log = logging.getLogger(__name__)

_CACHE: dict[tuple, Any] = {}
_LOCK = threading.Lock()
_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise ModelError("PyTorch models (.pth/.safetensors) need the torch extra: "
                         "pip install 'reelsmith[torch]', or use an .onnx model.") from exc
    return torch


def load_state_dict(path: Path) -> dict:
    """Tensors from ``path`` without executing any pickled code."""
    torch = _torch()
    if path.suffix.lower() == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise ModelError("Reading .safetensors needs the safetensors package.") from exc
        try:
            return dict(load_file(str(path), device="cpu"))
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"{path.name} is not a valid safetensors file: {exc}") from exc
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, RuntimeError, EOFError...
        text = str(exc)
        if "Unsupported global" in text or "GLOBAL" in text or "This file can still be loaded" in text:
            raise ModelError(
                f"Refusing to load {path.name}: it contains pickled objects other than tensors, "
                "and running them could execute code. Convert it to .safetensors with a "
                "trusted tool.") from exc
        raise ModelError(f"{path.name} is not a readable PyTorch checkpoint: "
                         f"{text.splitlines()[0][:200] if text else type(exc).__name__}") from exc
    return _unwrap(obj, path)


def _unwrap(obj: Any, path: Path) -> dict:
    torch = _torch()
    for _ in range(3):
        if not isinstance(obj, dict):
            raise ModelError(f"{path.name} does not hold a state dict.")
        if any(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
        for key in ("params_ema", "params", "state_dict", "model", "net_g", "generator"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        else:
            if len(obj) == 1 and isinstance(next(iter(obj.values())), dict):
                obj = next(iter(obj.values()))
            else:
                break
    if isinstance(obj, dict) and any(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    raise ModelError(f"{path.name} does not hold a state dict of tensors.")


def resolve_device(device: str) -> str:
    torch = _torch()
    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device in ("gpu", "tensorrt"):
        device = "cuda"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("CUDA was asked for but PyTorch sees no CUDA device.")
    if device != "cpu" and not device.startswith("cuda"):
        raise ModelError(f"Unknown device {device!r} for PyTorch; use auto, cpu or cuda.")
    return device


def resolve_precision(precision: str, device: str, half: bool, bf16: bool) -> str:
    if precision == "auto":
        return "fp16" if device.startswith("cuda") and half else "fp32"
    if precision == "fp16" and not half:
        raise ModelError("This architecture does not support fp16; use fp32 or bf16.")
    if precision == "bf16" and not bf16:
        raise ModelError("This architecture does not support bf16; use fp32.")
    return precision


class ResizedOutput:
    """A spandrel model whose raw output is bicubic-resized to ``scale`` x the input, the
    way the ncnn realesr-animevideov3 x2/x3 graphs end (resize before clamping)."""

    def __init__(self, desc, scale: int) -> None:
        self.desc = desc
        self.scale = scale

    def __call__(self, x):
        torch = _torch()
        y = self.desc.model(x)
        h, w = x.shape[-2:]
        return torch.nn.functional.interpolate(
            y, size=(h * self.scale, w * self.scale), mode="bicubic", align_corners=False)


class FaceRestoreCall:
    """A spandrel GFPGAN/CodeFormer called the way its weights were trained: [0, 1] ->
    [-1, 1] in, the first output (the restored face) back to [0, 1]. ``takes_fidelity``: the
    forward has CodeFormer's ``weight`` argument."""

    def __init__(self, desc, takes_fidelity: bool) -> None:
        self.desc = desc
        self.takes_fidelity = takes_fidelity

    def __call__(self, x, fidelity: float | None = None):
        kw = {"weight": 0.5 if fidelity is None else float(fidelity)} if self.takes_fidelity else {}
        out = self.desc.model(x * 2 - 1, **kw)
        y = out[0] if isinstance(out, tuple | list) else out
        return (y + 1) / 2


#: spandrel architectures whose call is raw [-1, 1] (see :class:`FaceRestoreCall`).
RAW_FACE_ARCHES = {"GFPGAN": False, "CodeFormer": True}


def read_weights(path: Path) -> tuple[dict, str, dict]:
    """(state dict, format, info) for a weight file or an ncnn pair.

    ``info`` is {} for plain files; for ncnn pairs, and for .safetensors written from one by
    ``models import``, it holds ``scale`` (what the file outputs) and ``source``.
    """
    torch = _torch()
    if is_ncnn(path):
        conv = convert_ncnn(path)
        sd = {k: torch.from_numpy(v) for k, v in conv.state_dict.items()}
        return sd, "ncnn", {"scale": conv.scale, "source": conv.source}
    sd = load_state_dict(path)
    if path.suffix.lower() != ".safetensors":
        return sd, "pth", {}
    from safetensors import safe_open  # present: load_state_dict just read the file

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    info: dict = {}
    if meta.get(META_OUTPUT_SCALE, "").isdigit():
        info["scale"] = int(meta[META_OUTPUT_SCALE])
    if meta.get(META_SOURCE):
        info["source"] = meta[META_SOURCE]
    return sd, "safetensors", info


class TorchRunner:
    """Module plumbing shared by the PyTorch call shapes (mixed in before the shape class).

    Calls are serialised on a lock (some architectures keep state between calls), so the
    model is ``thread_safe`` and wants one worker.
    """

    backend = "pytorch"
    thread_safe = True

    def __init__(self, module, descriptor: ModelDescriptor, device: str, precision: str) -> None:
        self.module = module
        self.descriptor = descriptor
        self.device = "cpu" if device == "cpu" else "cuda"
        self.provider = device
        self.precision = precision
        self._lock = threading.Lock()

    def _tensor(self, x: np.ndarray):
        torch = _torch()
        # copy=True: some architectures modify their input in place; never touch the caller's
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(
            self.provider, dtype=getattr(torch, _DTYPES[self.precision]), copy=True)

    def _infer(self, fn, *args):
        torch = _torch()
        try:
            with self._lock, torch.inference_mode():
                y = fn(*args)
        except Exception as exc:  # noqa: BLE001
            if is_out_of_memory(exc):
                raise
            raise ModelError(f"PyTorch failed running {self.descriptor.name}: "
                             f"{str(exc).splitlines()[0][:300]}") from exc
        return y.float().cpu().numpy()

    def close(self) -> None:
        pass


class TorchImageModel(TorchRunner, ImageModel):
    """A spandrel image model (upscale, restore, face restore)."""

    fidelity: float | None = None

    def configure(self, *, fidelity: float | None = None) -> None:
        """Set CodeFormer's fidelity weight (0..1; None: its default 0.5)."""
        if fidelity is None:
            return
        if not getattr(self.module, "takes_fidelity", False):
            raise ModelError(f"The model {self.name!r} has no fidelity weight; only CodeFormer "
                             "takes one.")
        if not 0.0 <= float(fidelity) <= 1.0:
            raise ModelError(f"Fidelity must be within [0, 1]; got {fidelity}.")
        self.fidelity = float(fidelity)

    def run(self, x: np.ndarray) -> np.ndarray:
        if isinstance(self.module, FaceRestoreCall):
            return self._infer(lambda t: self.module(t, self.fidelity), self._tensor(x))
        return self._infer(self.module, self._tensor(x))

    def describe(self) -> dict:
        info = super().describe()
        if getattr(self.module, "takes_fidelity", False):
            info["fidelity"] = 0.5 if self.fidelity is None else self.fidelity
        return info


class TorchInterpolationModel(TorchRunner, InterpolationModel):
    """RIFE IFNet: ``module.interpolate(img0, img1, timestep_plane, scale=, ensemble=)``.

    The module also answers ``size_multiple_for(scale)``, ``supports_ensemble`` and
    ``ignored_keys`` (see :class:`reelsmith.models.rife.IFNet`)."""

    flow_scale: float = 1.0
    ensemble: bool = False

    def configure(self, *, scale: float = 1.0, ensemble: bool = False) -> None:
        """Set the flow estimation scale (0.25, 0.5, 1 or 2; 0.5 for 4K) and ensembling."""
        from reelsmith.models.rife import FLOW_SCALES

        if float(scale) not in FLOW_SCALES:
            raise ModelError(f"RIFE flow scale {scale} is not supported; use one of "
                             f"{', '.join(f'{s:g}' for s in FLOW_SCALES)} (0.5 for 4K).")
        if ensemble and not getattr(self.module, "supports_ensemble", False):
            raise ModelError(f"The model {self.name!r} has no ensemble mode: its blocks pass "
                             "features to the next (as in RIFE 4.25), which ensembling does not "
                             "define; "
                             "turn ensemble off.")
        self.flow_scale, self.ensemble = float(scale), bool(ensemble)
        multiple = int(self.module.size_multiple_for(self.flow_scale))
        self.descriptor = ModelDescriptor(**{**self.descriptor.__dict__,
                                             "size_multiple": multiple})

    def run(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        n, _, h, w = a.shape
        ts = np.full((n, 1, h, w), t, dtype=np.float32)
        return self._infer(lambda *x: self.module.interpolate(*x, scale=self.flow_scale,
                                                              ensemble=self.ensemble),
                           self._tensor(a), self._tensor(b), self._tensor(ts))

    def describe(self) -> dict:
        info = super().describe()
        info.update({"flow_scale": self.flow_scale, "ensemble": self.ensemble,
                     "ignored_keys": self.descriptor.extra.get("ignored_keys")})
        return info


def load_torch_model(path: Path, *, name: str, purpose: str | None = None,
                     device: str = "auto", precision: str = "auto"
                     ) -> TorchImageModel | TorchInterpolationModel:
    """Load a .pth/.pkl/.safetensors file: RIFE by its key layout, else spandrel."""
    torch = _torch()
    dev = resolve_device(device)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, dev, precision, purpose)
    if is_ncnn(path):  # a pair: the weights file changes the model too
        bst = path.with_suffix(".bin").stat() if path.with_suffix(".bin").is_file() else None
        key += ((bst.st_mtime_ns, bst.st_size) if bst else None,)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        module, desc, prec, cls = hit
        return cls(module, ModelDescriptor(**{**desc.__dict__, "name": name}), dev, prec)
    sd, fmt, info = read_weights(path)
    from reelsmith.models import rife_v3
    from reelsmith.models.rife import rife_version

    if rife_v3.is_rife_v3_state_dict(sd):  # RIFE HDv3 (v3.x): built by its own module
        net = rife_v3.ifnet_v3_from_state_dict(sd)
        prec = resolve_precision(precision, dev, half=True, bf16=False)
        fields = rife_v3.descriptor_fields(net)
        fields["extra"] = {**fields["extra"], "ignored_keys": _ignored(net)}
        hit = (net.to(dev, dtype=getattr(torch, _DTYPES[prec])), ModelDescriptor(
            name=name, path=path, format=fmt, **fields), prec, TorchInterpolationModel)
        with _LOCK:
            _CACHE[key] = hit
        return TorchInterpolationModel(*hit[:2], dev, prec)

    version = rife_version(sd)
    if version is not None:
        net, arch = _load_rife(sd, version, path)
        prec = resolve_precision(precision, dev, half=True, bf16=True)
        module = net.to(dev, dtype=getattr(torch, _DTYPES[prec]))
        desc = ModelDescriptor(
            name=name, purpose=INTERPOLATE, scale=1, path=path, format=fmt,
            architecture=arch, supports_tiling=False, precisions=("fp32", "fp16", "bf16"),
            size_multiple=net.size_multiple, extra={"ignored_keys": _ignored(net)})
        cls: type[TorchImageModel | TorchInterpolationModel] = TorchInterpolationModel
    else:
        module, desc, prec = _load_spandrel(sd, path, name=name, fmt=fmt, purpose=purpose,
                                            device=dev, precision=precision, info=info)
        cls = TorchImageModel
    with _LOCK:
        _CACHE[key] = (module, desc, prec, cls)
    return cls(module, desc, dev, prec)


def _load_rife(sd: dict, version: str, path: Path) -> tuple[Any, str]:
    """(network, architecture words) for a RIFE state dict of ``version``."""
    if version == "3.x":  # v3.x keys, but not the HDv3 layout models.rife_v3 runs
        raise ModelError(f"{path.name} looks like a RIFE v3.x checkpoint (it has a context "
                         "network and a refinement U-Net) but not the HDv3 layout of RIFE v3.9 "
                         "that this build runs; use RIFE v3.9 or a Practical-RIFE 4.x model.")
    from reelsmith.models.rife import ifnet_from_state_dict

    net = ifnet_from_state_dict(sd)
    return net, (f"RIFE IFNet 4.x ({net.n_blocks} blocks"
                 f"{', encoder' if net.has_encoder else ''}"
                 f"{', feature passing' if net.feat_pass else ''})")


def _ignored(net: Any) -> dict | None:
    from reelsmith.models.rife import ignored_summary

    keys = list(getattr(net, "ignored_keys", []) or [])
    return ignored_summary(keys) if keys else None


@functools.cache
def _install_extra_arches() -> None:
    """Register spandrel_extra_arches (CodeFormer, ...) once, when that package is installed;
    it is optional (several of its architectures carry non-commercial licences)."""
    try:
        import spandrel_extra_arches
    except ImportError:
        return
    try:
        spandrel_extra_arches.install()
    except Exception as exc:  # noqa: BLE001 - a broken optional add-on must not stop loading
        log.warning("spandrel_extra_arches is installed but could not register: %s", exc)


def _load_spandrel(sd: dict, path: Path, *, name: str, fmt: str, purpose: str | None,
                   device: str, precision: str, info: dict | None = None):
    torch = _torch()
    try:
        import spandrel
    except ImportError as exc:
        raise ModelError("Loading .pth/.safetensors image models needs spandrel: "
                         "pip install 'reelsmith[torch]'.") from exc
    _install_extra_arches()
    try:
        desc = spandrel.ModelLoader(device="cpu").load_from_state_dict(sd)
    except spandrel.UnsupportedModelError as exc:
        raise ModelError(f"Architecture not recognised in {path.name}: no known "
                         "super-resolution/restoration or RIFE layout matches its weights.") from exc
    except Exception as exc:  # noqa: BLE001 - spandrel raises plain errors on odd shapes
        raise ModelError(f"Could not build a model from {path.name}: "
                         f"{str(exc).splitlines()[0][:200]}") from exc
    if not isinstance(desc, spandrel.ImageModelDescriptor):
        raise ModelError(f"{path.name} is a {desc.architecture.name} model "
                         f"({desc.purpose}); only single-image models are supported.")
    info = info or {}
    scale = int(info.get("scale") or desc.scale)
    spurpose = {"SR": UPSCALE if scale > 1 else RESTORE, "FaceSR": FACE_RESTORE,
                "Restoration": RESTORE}.get(desc.purpose)
    if spurpose is None:
        raise ModelError(f"{path.name} is a {desc.purpose} model; not supported here.")
    final_purpose = purpose or spurpose
    prec = resolve_precision(precision, device, desc.supports_half, desc.supports_bfloat16)
    desc.to(torch.device(device))
    desc.eval()
    if prec == "fp16":
        desc.half()
    elif prec == "bf16":
        desc.bfloat16()
    tiling = getattr(desc.tiling, "name", "SUPPORTED")
    req = desc.size_requirements
    precisions = tuple(p for p, ok in (("fp32", True), ("fp16", desc.supports_half),
                                       ("bf16", desc.supports_bfloat16)) if ok)
    arch = desc.architecture.name
    module = desc
    if scale != desc.scale:
        module = ResizedOutput(desc, scale)
        arch += f" (x{desc.scale}, bicubic-resized to x{scale})"
    extra = {"source": info["source"]} if info.get("source") else {}
    fixed = None
    if desc.purpose == "FaceSR":  # aligned FFHQ-template crops of one size
        fixed = (512, 512)
        tiling = "NONE"
        if desc.architecture.name in RAW_FACE_ARCHES:
            module = FaceRestoreCall(desc, RAW_FACE_ARCHES[desc.architecture.name])
            extra["input_norm"] = "-1,1"
            if module.takes_fidelity:
                extra["fidelity_input"] = "weight"
    md = ModelDescriptor(
        name=name, purpose=final_purpose, scale=scale, path=path, format=fmt,
        architecture=arch, in_channels=desc.input_channels,
        out_channels=desc.output_channels, supports_tiling=tiling == "SUPPORTED",
        precisions=precisions, size_multiple=max(1, int(req.multiple_of or 1)),
        fixed_size=fixed,
        extra={"spandrel_purpose": desc.purpose, "min_size": req.minimum,
               "square": bool(req.square), **extra})
    return module, md, prec
