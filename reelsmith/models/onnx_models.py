"""ONNX graphs as call shapes: read a graph's inputs and outputs, return the right class.

:func:`open_onnx` opens the (cached) session from :mod:`onnx_backend` and sorts the graph
by its I/O contract:

- one NCHW input with 6 or 7 channels, or two NCHW images (+ an optional timestep), or one
  6-channel input + a timestep: :class:`OnnxInterpolationModel` (RIFE exports);
- one NCHW image + one (N, D) vector: :class:`OnnxConditionedImageModel` (inswapper-style);
- one NCHW image + a scalar ``weight``: :class:`OnnxImageModel` with a fidelity input
  (CodeFormer exports: the weight is fed from :meth:`OnnxImageModel.configure`);
- one NCHW image and one (N, D) output, when the purpose is face_embed or the input is a
  fixed square of at most 160 px (ArcFace's 112): :class:`OnnxEmbeddingModel`;
- one NCHW image whose first output is NCHW with 8 or more channels, or any graph recorded
  as face_parse: :class:`OnnxSegmentationModel` (BiSeNet's 19 classes);
- one NCHW image whose outputs are all rank 2 or 3: :class:`OnnxDetectionModel` (SCRFD,
  YOLO-face style raw outputs);
- any other single NCHW image input: :class:`OnnxImageModel`; purpose and scale come from
  a probe run when the catalog/manifest does not say.

Pixels are converted at the graph's edge by a :class:`normalise.Normalisation` (value range,
mean/std, channel order), decided as that module says and reported by ``describe()``.
fp16 graphs (float16 inputs) are fed float16; outputs come back as float32.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np

from reelsmith.errors import ModelError
from reelsmith.models.base import LoadedModel
from reelsmith.models.descriptor import (
    FACE_DETECT,
    FACE_EMBED,
    FACE_PARSE,
    FACE_RESTORE,
    FACE_SWAP,
    INTERPOLATE,
    RESTORE,
    UPSCALE,
    ModelDescriptor,
)
from reelsmith.models.normalise import Normalisation, normalisation
from reelsmith.models.onnx_backend import PROVIDER_NAMES, choose_providers, get_session, thread_count
from reelsmith.models.shapes import (
    ConditionedImageModel,
    DetectionModel,
    EmbeddingModel,
    ImageModel,
    InterpolationModel,
    SegmentationModel,
    shape_name,
)
from reelsmith.models.tiling import is_out_of_memory

log = logging.getLogger(__name__)

_NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
             "tensor(double)": np.float64, "tensor(bfloat16)": None}


def _is_time_input(inp) -> bool:
    name = inp.name.lower()
    shape = inp.shape
    if "time" in name or name in ("t", "ts", "dt"):
        return True
    return len(shape) < 4 or (isinstance(shape[1], int) and shape[1] == 1)


def _is_embedding_input(inp) -> bool:
    """(N, D) with a known D > 1 and a name that is not a timestep's."""
    shape = inp.shape
    return (len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 1
            and not ("time" in inp.name.lower() or inp.name.lower() in ("t", "ts", "dt")))


class OnnxRunner:
    """Session plumbing shared by every ONNX call shape (mixed in before the shape class).

    ``InferenceSession.run`` may be entered from several threads, so ONNX models are
    ``thread_safe``; they still declare one worker (intra-op threads use every core).
    """

    backend = "onnxruntime"
    thread_safe = True
    norm: Normalisation = Normalisation()

    def _set_norm(self, purpose: str | None, hints: dict | None) -> None:
        """Decide the pixel convention (see :mod:`normalise`) and record it."""
        meta = self.session.get_modelmeta().custom_metadata_map or {}
        self.norm = normalisation(purpose, hints=hints, graph_meta=meta)
        self.descriptor.extra.update(self.norm.to_dict())

    def _open(self, path: Path, session, precision: str) -> None:
        self.path = path
        self.session = session
        self.provider = session.get_providers()[0]
        self.device = "cpu" if self.provider == PROVIDER_NAMES["cpu"] else "cuda"
        self._inputs = session.get_inputs()
        self._outputs = [o.name for o in session.get_outputs()]
        dtypes = {_NP_TYPES.get(i.type, np.float32) for i in self._inputs}
        if None in dtypes:
            raise ModelError(f"{path.name} takes bfloat16 inputs, which ONNX Runtime "
                             "cannot feed from numpy; export it as fp32 or fp16.")
        self._in_dtype = np.float16 if np.float16 in dtypes else np.float32
        graph_fp16 = self._in_dtype == np.float16
        trt = self.provider == PROVIDER_NAMES["tensorrt"]
        if precision in ("fp16", "bf16") and not graph_fp16 and not trt:
            log.warning("%s is an fp32 graph; running it in fp32 on %s", path.name, self.provider)
        self.precision = "fp16" if graph_fp16 or (precision == "fp16" and trt) else "fp32"
        first = self._inputs[0].shape
        self.max_batch = first[0] if isinstance(first[0], int) and first[0] > 0 else None

    def _exec(self, feeds: dict[str, np.ndarray],
              outputs: list[str] | None = None) -> list[np.ndarray]:
        try:
            out = self.session.run(outputs or self._outputs[:1], feeds)
        except Exception as exc:  # noqa: BLE001 - ORT raises several private types
            if is_out_of_memory(exc):
                raise
            raise ModelError(f"ONNX Runtime failed running {self.path.name}: "
                             f"{str(exc).strip().splitlines()[0][:300]}") from exc
        return [np.asarray(o, dtype=np.float32) for o in out]

    def _descriptor(self, *, name: str | None, purpose: str, scale: int = 1,
                    size_multiple: int = 1, image_input: int = 0, **kw) -> ModelDescriptor:
        shape = self._inputs[image_input].shape
        fixed = None
        if len(shape) == 4 and isinstance(shape[2], int) and isinstance(shape[3], int) \
                and shape[2] > 0 and shape[3] > 0:
            fixed = (shape[2], shape[3])
        return ModelDescriptor(
            name=name or self.path.stem, purpose=purpose, scale=scale, path=self.path,
            format="onnx", architecture="onnx graph", precisions=(self.precision,),
            size_multiple=size_multiple, fixed_size=fixed,
            extra={"inputs": [f"{i.name}{list(i.shape)}:{i.type}" for i in self._inputs]}, **kw)

    def describe(self) -> dict:
        info = super().describe()  # type: ignore[misc] - the shape class's LoadedModel.describe
        info["threads"] = thread_count() if self.device == "cpu" else None
        if not self.norm.identity:
            info["input_norm"] = self.norm.to_dict()
        return info

    def close(self) -> None:
        self.session = None


class OnnxImageModel(OnnxRunner, ImageModel):
    """Image -> image. ``weight_input``: the scalar fidelity input of CodeFormer exports
    (fed ``fidelity``, set by :meth:`configure`; 0 = most restoration, 1 = most faithful)."""

    fidelity: float = 0.5

    def __init__(self, path: Path, session, *, name: str | None, purpose: str | None,
                 scale: int | None, size_multiple: int | None, precision: str,
                 weight_input=None, hints: dict | None = None) -> None:
        self._open(path, session, precision)
        self._weight = weight_input
        if weight_input is not None and purpose is None:
            purpose = FACE_RESTORE  # only face restorers (CodeFormer) take a fidelity scalar
        shape = self._inputs[0].shape
        in_ch = shape[1] if isinstance(shape[1], int) else 3
        self.descriptor = self._descriptor(name=name, purpose=purpose or UPSCALE,
                                           scale=scale or 1, size_multiple=size_multiple or 1,
                                           in_channels=in_ch,
                                           supports_tiling=purpose != FACE_RESTORE)
        self._set_norm(purpose, hints)
        if weight_input is not None:
            self.descriptor.extra["fidelity_input"] = weight_input.name
        if scale is None or purpose is None:
            self._probe(purpose)

    def configure(self, *, fidelity: float | None = None) -> None:
        """Set CodeFormer's fidelity weight (0..1); ModelError for a graph without one."""
        if fidelity is None:
            return
        if self._weight is None:
            raise ModelError(f"The model {self.name!r} has no fidelity input; only CodeFormer "
                             "takes a fidelity weight.")
        if not 0.0 <= float(fidelity) <= 1.0:
            raise ModelError(f"Fidelity must be within [0, 1]; got {fidelity}.")
        self.fidelity = float(fidelity)

    def _probe(self, purpose: str | None) -> None:
        d = self.descriptor
        ph, pw = d.fixed_size or (max(64, d.size_multiple),) * 2
        y = self.run(np.full((1, d.in_channels, ph, pw), 0.5, dtype=np.float32))
        sy, sx = y.shape[2] / ph, y.shape[3] / pw
        if sy != sx or sy < 1 or sy != int(sy):
            raise ModelError(f"{self.path.name}: output {y.shape[2]}x{y.shape[3]} for a "
                             f"{ph}x{pw} input is not an integer upscale; architecture not "
                             "recognised.")
        d.scale = int(sy)
        d.out_channels = int(y.shape[1])
        if purpose is None:
            d.purpose = UPSCALE if d.scale > 1 else RESTORE

    def run(self, x: np.ndarray) -> np.ndarray:
        if self.max_batch and x.shape[0] != self.max_batch:
            return np.concatenate([self.run(x[i:i + 1]) for i in range(x.shape[0])])
        feeds = {self._inputs[0].name: self.norm.apply(x).astype(self._in_dtype, copy=False)}
        if self._weight is not None:
            dt = _NP_TYPES.get(self._weight.type, np.float32) or np.float32
            shape = [d if isinstance(d, int) and d > 0 else 1 for d in self._weight.shape]
            feeds[self._weight.name] = np.full(shape, self.fidelity, dtype=dt)
        return self.norm.undo(self._exec(feeds)[0])

    def describe(self) -> dict:
        info = super().describe()
        if self._weight is not None:
            info["fidelity"] = self.fidelity
        return info


@functools.lru_cache(maxsize=4)
def _warp_constants(n: int, h: int, w: int) -> np.ndarray:
    """N x 4 x H x W: flow divisor planes ((W-1)/2, (H-1)/2), then the grid x and y in
    [-1, 1] (the backward-warp constants of RIFE's ``grid_sample`` with aligned corners).
    The same for every frame of a video: made once per size, read-only."""
    out = np.empty((n, 4, h, w), np.float32)
    out[:, 0] = (w - 1) / 2
    out[:, 1] = (h - 1) / 2
    out[:, 2] = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    out[:, 3] = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    out.flags.writeable = False
    return out


class OnnxInterpolationModel(OnnxRunner, InterpolationModel):
    """``layout``: "concat7" (img0|img1|t planes: vs-mlrt's RIFE "v2" form), "concat11"
    (vs-mlrt's default "v1" form: img0|img1|t, then the warp constants its graph does not
    compute itself -- the flow divisor ((W-1)/2, (H-1)/2) as two planes and the sampling grid,
    x and y from -1 to 1, as two more), "concat6" (img0|img1, middle frame only), "concat6+t"
    (img0|img1 and a timestep input) or "pair" (img0, img1[, timestep])."""

    def __init__(self, path: Path, session, *, layout: str, image_names: list[str],
                 time_input, name: str | None, size_multiple: int | None,
                 precision: str) -> None:
        self._open(path, session, precision)
        self._layout = layout
        self._img_names = image_names
        self._time_input = time_input
        self.descriptor = self._descriptor(name=name, purpose=INTERPOLATE,
                                           size_multiple=size_multiple or 32,
                                           supports_tiling=False)

    def _time_value(self, inp, t: float, n: int, h: int, w: int) -> np.ndarray:
        shape = inp.shape
        dt = _NP_TYPES.get(inp.type, np.float32) or np.float32
        if len(shape) == 4:
            full = not (isinstance(shape[2], int) and shape[2] == 1)
            return np.full((n, 1, h, w) if full else (n, 1, 1, 1), t, dtype=dt)
        if len(shape) == 0:
            return np.asarray(t, dtype=dt)
        return np.full([n] + [1] * (len(shape) - 1), t, dtype=dt)

    def run(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        n, _, h, w = a.shape
        dt = self._in_dtype
        if self._layout in ("concat7", "concat11"):
            parts = [a, b, np.full((n, 1, h, w), t, np.float32)]
            if self._layout == "concat11":
                parts.append(_warp_constants(n, h, w))
            x = np.concatenate(parts, axis=1)
            return self._exec({self._inputs[0].name: x.astype(dt)})[0]
        if self._layout == "concat6":
            if abs(t - 0.5) > 1e-6:
                raise ModelError(f"{self.path.name} only makes the middle frame (t=0.5); "
                                 f"t={t} was asked.")
            return self._exec({self._inputs[0].name: np.concatenate([a, b], 1).astype(dt)})[0]
        feeds: dict[str, np.ndarray] = {}
        if self._layout == "concat6+t":
            feeds[self._img_names[0]] = np.concatenate([a, b], 1).astype(dt)
        else:
            feeds[self._img_names[0]] = a.astype(dt)
            feeds[self._img_names[1]] = b.astype(dt)
        if self._time_input is not None:
            feeds[self._time_input.name] = self._time_value(self._time_input, t, n, h, w)
        return self._exec(feeds)[0]


class OnnxConditionedImageModel(OnnxRunner, ConditionedImageModel):
    def __init__(self, path: Path, session, *, image_input: int, name: str | None,
                 purpose: str | None, size_multiple: int | None, precision: str,
                 hints: dict | None = None) -> None:
        self._open(path, session, precision)
        self._image = self._inputs[image_input]
        self._embedding = self._inputs[1 - image_input]
        self.embedding_size = int(self._embedding.shape[1])
        self.descriptor = self._descriptor(name=name, purpose=purpose or FACE_SWAP,
                                           size_multiple=size_multiple or 1,
                                           image_input=image_input, supports_tiling=False)
        shape = self._image.shape
        self.max_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self.descriptor.extra["embedding_input"] = self._embedding.name
        self._set_norm(self.descriptor.purpose, hints)

    def run(self, x: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        if self.max_batch and x.shape[0] != self.max_batch:
            return np.concatenate([self.run(x[i:i + 1], embedding[i:i + 1])
                                   for i in range(x.shape[0])])
        emb_dt = _NP_TYPES.get(self._embedding.type, np.float32) or np.float32
        out = self._exec({self._image.name: self.norm.apply(x).astype(self._in_dtype, copy=False),
                          self._embedding.name: embedding.astype(emb_dt, copy=False)})[0]
        return self.norm.undo(out)


class OnnxDetectionModel(OnnxRunner, DetectionModel):
    def __init__(self, path: Path, session, *, name: str | None, purpose: str | None,
                 size_multiple: int | None, precision: str, hints: dict | None = None) -> None:
        self._open(path, session, precision)
        self.output_names = tuple(self._outputs)
        self.descriptor = self._descriptor(name=name, purpose=purpose or FACE_DETECT,
                                           size_multiple=size_multiple or 1,
                                           supports_tiling=False, out_channels=0)
        self.descriptor.extra["outputs"] = list(self._outputs)

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out = self._exec({self._inputs[0].name: x.astype(self._in_dtype, copy=False)},
                         self._outputs)
        return dict(zip(self._outputs, out, strict=True))


class OnnxEmbeddingModel(OnnxRunner, EmbeddingModel):
    """ArcFace-style: an aligned crop in, one (N, D) row per image out."""

    def __init__(self, path: Path, session, *, name: str | None, purpose: str | None,
                 size_multiple: int | None, precision: str, hints: dict | None = None) -> None:
        self._open(path, session, precision)
        out_shape = session.get_outputs()[0].shape
        if len(out_shape) == 2 and isinstance(out_shape[1], int):
            self.embedding_size = out_shape[1]
        self.descriptor = self._descriptor(name=name, purpose=FACE_EMBED,
                                           size_multiple=size_multiple or 1,
                                           supports_tiling=False, out_channels=0)
        self.descriptor.extra["embedding_size"] = self.embedding_size
        self._set_norm(FACE_EMBED, hints)

    def run(self, x: np.ndarray) -> np.ndarray:
        if self.max_batch and x.shape[0] != self.max_batch:
            return np.concatenate([self.run(x[i:i + 1]) for i in range(x.shape[0])])
        y = self._exec({self._inputs[0].name: self.norm.apply(x).astype(self._in_dtype)})[0]
        return y.reshape(x.shape[0], -1)


class OnnxSegmentationModel(OnnxRunner, SegmentationModel):
    """BiSeNet-style parsing: an image in, (N, C, H, W) logits out (the first output; the
    auxiliary heads some exports keep are ignored)."""

    def __init__(self, path: Path, session, *, name: str | None, purpose: str | None,
                 size_multiple: int | None, precision: str, hints: dict | None = None) -> None:
        self._open(path, session, precision)
        ch = session.get_outputs()[0].shape[1]
        self.num_classes = ch if isinstance(ch, int) else None
        self.descriptor = self._descriptor(name=name, purpose=FACE_PARSE,
                                           size_multiple=size_multiple or 32,
                                           supports_tiling=False,
                                           out_channels=self.num_classes or 0)
        self._set_norm(FACE_PARSE, hints)

    def run(self, x: np.ndarray) -> np.ndarray:
        if self.max_batch and x.shape[0] != self.max_batch:
            return np.concatenate([self.run(x[i:i + 1]) for i in range(x.shape[0])])
        return self._exec({self._inputs[0].name: self.norm.apply(x).astype(self._in_dtype)})[0]


def _is_weight_input(inp) -> bool:
    """CodeFormer's fidelity scalar: named ``weight``/``w``/``fidelity``, rank 0 or 1."""
    return inp.name.lower() in ("weight", "w", "fidelity") and len(inp.shape) <= 1


def _is_embedder(inputs, outputs, purpose: str | None) -> bool:
    if len(outputs) != 1 or len(outputs[0].shape) != 2:
        return False
    if purpose == FACE_EMBED:
        return True
    h, w = inputs[0].shape[2:]
    return isinstance(h, int) and h == w and 0 < h <= 160


def _is_segmenter(outputs, purpose: str | None) -> bool:
    if purpose == FACE_PARSE:
        return True
    shape = outputs[0].shape if outputs else ()
    return len(shape) == 4 and isinstance(shape[1], int) and shape[1] >= 8


def _shape_of(path: Path, inputs, outputs,
              purpose: str | None = None) -> tuple[type[LoadedModel], dict]:
    """The shape class a graph's I/O says it is, and its constructor's layout arguments.
    ``purpose`` (the catalog's or manifest's) settles graphs whose I/O alone is ambiguous."""
    if len(inputs) == 1:
        shape = inputs[0].shape
        if len(shape) != 4:
            raise ModelError(f"{path.name}: input {inputs[0].name} has shape {shape}; "
                             "expected NCHW.")
        ch = shape[1]
        if isinstance(ch, int) and ch in (6, 7, 11):
            layout = {6: "concat6", 7: "concat7", 11: "concat11"}[ch]
            return OnnxInterpolationModel, {"layout": layout, "image_names": [],
                                            "time_input": None}
        if _is_embedder(inputs, outputs, purpose):
            return OnnxEmbeddingModel, {}
        if _is_segmenter(outputs, purpose):
            return OnnxSegmentationModel, {}
        if outputs and all(len(o.shape) in (2, 3) for o in outputs):
            return OnnxDetectionModel, {}
        return OnnxImageModel, {}
    if len(inputs) == 2:
        for k in (0, 1):
            if len(inputs[k].shape) == 4 and _is_embedding_input(inputs[1 - k]):
                return OnnxConditionedImageModel, {"image_input": k}
            if len(inputs[k].shape) == 4 and _is_weight_input(inputs[1 - k]):
                if k != 0:
                    raise ModelError(f"{path.name}: the image must be the first input.")
                return OnnxImageModel, {"weight_input": inputs[1]}
    images = [i for i in inputs if not _is_time_input(i)]
    times = [i for i in inputs if _is_time_input(i)]
    if len(images) == 2 and len(times) <= 1:
        return OnnxInterpolationModel, {"layout": "pair",
                                        "image_names": [images[0].name, images[1].name],
                                        "time_input": times[0] if times else None}
    if len(images) == 1 and len(times) == 1 and images[0].shape[1] in (6, "6"):
        return OnnxInterpolationModel, {"layout": "concat6+t", "image_names": [images[0].name],
                                        "time_input": times[0]}
    raise ModelError(f"{path.name}: unrecognised inputs {[(i.name, i.shape) for i in inputs]}; "
                     "expected one NCHW image, img0, img1 and timestep, or an image and an "
                     "embedding.")


def open_onnx(path: Path, *, name: str | None = None, purpose: str | None = None,
              scale: int | None = None, size_multiple: int | None = None,
              device: str = "auto", precision: str = "auto",
              hints: dict | None = None) -> LoadedModel:
    """Open ``path`` as the call shape its graph has.

    ``purpose``/``scale``: what the catalog or manifest says (None: detect). A purpose the
    graph's shape cannot serve is a ModelError here, before anything runs. ``hints``: the
    catalog entry's or manifest's pixel convention (``input_norm``, ``channel_order``; see
    :mod:`normalise`).
    """
    path = Path(path)
    session = get_session(path, choose_providers(device), fp16=precision == "fp16")
    inputs, outputs = session.get_inputs(), session.get_outputs()
    cls, layout = _shape_of(path, inputs, outputs, purpose)
    if purpose is not None and purpose not in cls.purposes:
        kind = cls.purposes[0] if len(cls.purposes) == 1 else shape_name(cls)
        raise ModelError(f"The model {name or path.stem!r} is a {kind} model (inputs: "
                         f"{', '.join(i.name for i in inputs)}); it cannot be used to {purpose}.")
    common = {"name": name, "size_multiple": size_multiple, "precision": precision}
    if cls is OnnxImageModel:
        return OnnxImageModel(path, session, purpose=purpose, scale=scale, hints=hints,
                              **layout, **common)
    if cls is OnnxInterpolationModel:
        return OnnxInterpolationModel(path, session, **layout, **common)
    return cls(path, session, purpose=purpose, hints=hints, **layout, **common)
