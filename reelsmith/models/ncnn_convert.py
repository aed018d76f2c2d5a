"""ncnn Real-ESRGAN files -> a PyTorch state dict in the key layout spandrel detects.

Design: Real-ESRGAN ships its models for ncnn as ``.param`` + ``.bin`` pairs
(realesrgan-ncnn-vulkan and the packages built on it). Their weights are the PyTorch
weights exported through ONNX: the same tensors, stored as fp16. Instead of running ncnn
graphs, we recognise the two Real-ESRGAN architectures in a graph, check every layer
against the architecture's template (layer types, convolution shapes, fused activations,
residual scales, upsampling), and rename the weights to the keys of the original PyTorch
releases, which spandrel detects; the PyTorch backend then loads them like a ``.pth``.

==================  ===================================================================
RRDBNet             ``conv_first``, ``body.{b}.rdb{1..3}.conv{1..5}``, ``conv_body``,
                    ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last`` (x4plus: 23
                    blocks, x4plus-anime-6B: 6 blocks)
SRVGGNetCompact     ``body.{2i}`` convolutions, ``body.{2i+1}`` PReLU slopes
                    (realesr-animevideov3)
==================  ===================================================================

The realesr-animevideov3 x2 and x3 files are the x4 network followed by a bicubic
downscale (0.5 / 0.75) inside the graph; :class:`NcnnConversion` keeps that as
``scale`` (what the file outputs) next to ``net_scale`` (what the network computes), and
the PyTorch backend appends the same resize. :func:`save_safetensors` writes a conversion
once (``models import``), with the scales and its source in the safetensors metadata.
No torch here: arrays are numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reelsmith.errors import ModelError
from reelsmith.models.ncnn_param import NcnnGraph, NcnnLayer, parse_param, read_weights

RRDBNET = "RRDBNet"
SRVGG = "SRVGGNetCompact"
#: safetensors metadata keys written by :func:`save_safetensors`.
META_OUTPUT_SCALE = "reelsmith.output_scale"
META_NET_SCALE = "reelsmith.net_scale"
META_SOURCE = "reelsmith.source"
META_ARCHITECTURE = "reelsmith.architecture"

_UNKNOWN = ("is not a Real-ESRGAN ncnn network reelsmith can convert ({why}); supported: "
            "Real-ESRGAN RRDBNet (x4plus, x4plus-anime) and SRVGGNetCompact "
            "(realesr-animevideov3) ncnn files.")


@dataclass
class NcnnConversion:
    """A converted ncnn pair: spandrel-layout ``state_dict`` and what the graph computes."""

    state_dict: dict[str, np.ndarray]
    architecture: str  # RRDBNET | SRVGG
    net_scale: int  # the network's own upscale
    scale: int  # what the file outputs (net_scale, or less after an in-graph resize)
    param_path: Path
    bin_path: Path
    details: dict = field(default_factory=dict)

    @property
    def source(self) -> str:
        return f"converted from the ncnn files {self.param_path.name} + {self.bin_path.name}"

    def metadata(self) -> dict[str, str]:
        return {META_OUTPUT_SCALE: str(self.scale), META_NET_SCALE: str(self.net_scale),
                META_ARCHITECTURE: self.architecture,
                META_SOURCE: f"{self.source} ({self.param_path.parent})"}


def ncnn_pair(path: Path) -> tuple[Path, Path]:
    """(``.param``, ``.bin``) for either file of a pair; ModelError when one is missing."""
    path = Path(path)
    if path.suffix.lower() == ".bin":
        param = path.with_suffix(".param")
        if not param.is_file():
            raise ModelError(f"{path.name} is ncnn weights without their graph: put "
                             f"{param.name} beside it, or pass the .param file.")
        return param, path
    weights = path.with_suffix(".bin")
    if not weights.is_file():
        raise ModelError(f"The ncnn graph {path.name} needs its weights {weights.name} beside "
                         "it (same name, .bin); download the pair together.")
    return path, weights


def convert_ncnn(path: Path) -> NcnnConversion:
    """Read an ncnn pair (give the ``.param`` or the ``.bin``) and convert it."""
    param, weights = ncnn_pair(path)
    graph = parse_param(param)
    read_weights(graph, weights)
    types = {layer.type for layer in graph.layers}
    if "PReLU" in types or "PixelShuffle" in types:
        sd, arch, net_scale, scale, details = _srvgg(graph)
    elif "Eltwise" in types and "Concat" in types:
        sd, arch, net_scale, scale, details = _rrdbnet(graph)
    else:
        raise ModelError(f"{param.name} " + _UNKNOWN.format(
            why="neither PReLU/PixelShuffle nor dense residual blocks"))
    return NcnnConversion(sd, arch, net_scale, scale, param, weights, details)


def save_safetensors(conv: NcnnConversion, dest: Path) -> None:
    """Write the conversion as ``.safetensors`` with scales and source in its metadata."""
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in conv.state_dict.items()}, str(dest),
              metadata=conv.metadata())


# --- shared checks ---------------------------------------------------------------------

def _fail(graph: NcnnGraph, why: str) -> ModelError:
    return ModelError(f"{graph.path.name} " + _UNKNOWN.format(why=why))


def _check_types(graph: NcnnGraph, allowed: set[str], arch: str) -> None:
    extra = sorted({layer.type for layer in graph.layers} - allowed)
    if extra:
        raise _fail(graph, f"it has {', '.join(extra)} layers, which {arch} does not")


def _conv(graph: NcnnGraph, layer: NcnnLayer, in_ch: int, out_ch: int, leaky: float | None,
          what: str) -> dict[str, np.ndarray]:
    """Check a 3x3/stride 1/pad 1 convolution with bias (and its fused activation)."""
    w = layer.weights["weight"]
    k = int(layer.get(1, 0))
    geometry = (int(layer.get(11, k)), k, int(layer.get(2, 1)), int(layer.get(3, 1)),
                int(layer.get(4, 0)), int(layer.get(14, layer.get(4, 0))))
    if geometry != (3, 3, 1, 1, 1, 1) or "bias" not in layer.weights:
        raise _fail(graph, f"{what} ({layer.name}) is not a 3x3 convolution with bias, "
                           "stride 1 and padding 1")
    if w.shape[:2] != (out_ch, in_ch):
        raise _fail(graph, f"{what} ({layer.name}) maps {w.shape[1]} to {w.shape[0]} channels, "
                           f"expected {in_ch} to {out_ch}")
    act = int(layer.get(9, 0))
    if leaky is None and act != 0:
        raise _fail(graph, f"{what} ({layer.name}) has a fused activation where none belongs")
    if leaky is not None:
        slope = layer.get(10, [0.0])
        if act != 2 or not isinstance(slope, list) or not np.isclose(slope[0], leaky):
            raise _fail(graph, f"{what} ({layer.name}) lacks the LeakyReLU({leaky}) it needs")
    return {"weight": w, "bias": layer.weights["bias"]}


def _interp(layer: NcnnLayer) -> tuple[int, float, float]:
    """(resize type, height scale, width scale) of an Interp layer (1 nearest, 3 bicubic)."""
    return int(layer.get(0, 0)), float(layer.get(1, 1.0)), float(layer.get(2, 1.0))


# --- RRDBNet (Real-ESRGAN x4plus, x4plus-anime-6B) -----------------------------------

def _rrdbnet(graph: NcnnGraph):
    _check_types(graph, {"Input", "Split", "Convolution", "Concat", "Eltwise", "BinaryOp",
                         "Interp"}, RRDBNET)
    convs = graph.of_type("Convolution")
    blocks, rest = divmod(len(convs) - 6, 15)
    if rest or blocks < 1:
        raise _fail(graph, f"its {len(convs)} convolutions do not make 15 per residual block "
                           "plus 6")
    first = convs[0].weights["weight"]
    in_ch, nf = first.shape[1], first.shape[0]
    gc = convs[1].weights["weight"].shape[0]
    sd: dict[str, np.ndarray] = {}

    def put(key: str, tensors: dict[str, np.ndarray]) -> None:
        sd[f"{key}.weight"], sd[f"{key}.bias"] = tensors["weight"], tensors["bias"]

    put("conv_first", _conv(graph, convs[0], in_ch, nf, None, "the first convolution"))
    i = 1
    for b in range(blocks):
        for r in range(1, 4):
            for c in range(1, 6):
                cin, cout = nf + (c - 1) * gc, (gc if c < 5 else nf)
                put(f"body.{b}.rdb{r}.conv{c}",
                    _conv(graph, convs[i], cin, cout, 0.2 if c < 5 else None,
                          f"block {b} dense layer {r}.{c}"))
                i += 1
    for key, leaky in (("conv_body", None), ("conv_up1", 0.2), ("conv_up2", 0.2),
                       ("conv_hr", 0.2)):
        put(key, _conv(graph, convs[i], nf, nf, leaky, key))
        i += 1
    put("conv_last", _conv(graph, convs[i], nf, in_ch, None, "the last convolution"))
    eltwise = graph.of_type("Eltwise")
    if len(eltwise) != 4 * blocks or any(
            int(e.get(0, 1)) != 1 or e.get(1) != [0.2, 1.0] for e in eltwise):
        raise _fail(graph, "its residual additions are not the 0.2-scaled sums of RRDB blocks")
    ups = [_interp(layer) for layer in graph.of_type("Interp")]
    if ups != [(1, 2.0, 2.0), (1, 2.0, 2.0)]:
        raise _fail(graph, "it does not upsample by two nearest-neighbour x2 steps "
                           "(only the x4 RRDBNet files are supported)")
    return sd, RRDBNET, 4, 4, {"blocks": blocks, "features": nf, "growth": gc}


# --- SRVGGNetCompact (realesr-animevideov3) --------------------------------------------

def _srvgg(graph: NcnnGraph):
    _check_types(graph, {"Input", "Split", "Convolution", "PReLU", "PixelShuffle", "Interp",
                         "BinaryOp"}, SRVGG)
    chain = [layer for layer in graph.layers if layer.type in ("Convolution", "PReLU")]
    convs = [layer for layer in chain if layer.type == "Convolution"]
    if len(convs) < 2 or [layer.type for layer in chain] != (
            ["Convolution", "PReLU"] * (len(convs) - 1) + ["Convolution"]):
        raise _fail(graph, "its convolutions are not each followed by a PReLU")
    first = convs[0].weights["weight"]
    in_ch, nf = first.shape[1], first.shape[0]
    shuffles = graph.of_type("PixelShuffle")
    if len(shuffles) != 1:
        raise _fail(graph, "it has no single pixel-shuffle upsampler")
    net_scale = int(shuffles[0].get(0, 1))
    sd: dict[str, np.ndarray] = {}
    for n, layer in enumerate(chain):
        if layer.type == "PReLU":
            slope = layer.weights["slope"]
            if slope.shape != (nf,):
                raise _fail(graph, f"PReLU {layer.name} has {slope.shape[0]} slopes, not {nf}")
            sd[f"body.{n}.weight"] = slope
            continue
        last = n == len(chain) - 1
        t = _conv(graph, layer, nf if n else in_ch, in_ch * net_scale ** 2 if last else nf,
                  None, "the last convolution" if last else f"convolution {n // 2}")
        sd[f"body.{n}.weight"], sd[f"body.{n}.bias"] = t["weight"], t["bias"]
    adds = graph.of_type("BinaryOp")
    if len(adds) != 1 or int(adds[0].get(0, 0)) != 0:
        raise _fail(graph, "it does not add the upsampled input back once")
    interps = [_interp(layer) for layer in graph.of_type("Interp")]
    if not interps or interps[0] != (1, float(net_scale), float(net_scale)):
        raise _fail(graph, f"its skip connection is not a nearest x{net_scale} upsample")
    scale = net_scale
    if len(interps) == 2:
        kind, fy, fx = interps[1]
        out = net_scale * fx
        last_interp = graph.of_type("Interp")[-1]
        if (kind != 3 or fy != fx or abs(out - round(out)) > 1e-6 or round(out) < 1
                or int(last_interp.get(6, 0)) or graph.layers[-1] is not last_interp):
            raise _fail(graph, "its final resize is not a bicubic rescale to a whole scale")
        scale = int(round(out))
    elif len(interps) > 2:
        raise _fail(graph, "it resizes more than twice")
    return sd, SRVGG, net_scale, scale, {"features": nf, "convolutions": len(convs) - 2}
