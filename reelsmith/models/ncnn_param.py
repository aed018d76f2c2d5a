"""Reading ncnn model files: the ``.param`` graph text and the ``.bin`` weights.

Design: ncnn keeps a network as two files. The ``.param`` is text -- the magic number
7767517, a line ``<layer count> <blob count>``, then one line per layer: type, name, input
count, output count, the input and output blob names and ``key=value`` parameters (a
negative key ``-23300-k`` carries an array for key ``k`` as ``count,v1,v2,...``). The
``.bin`` is the layers' weights concatenated in ``.param`` layer order, with no names:
each layer reads its blobs in a fixed order. A "tagged" blob (a convolution's weights)
starts with a 4-byte tag saying how it is stored (fp16 ``0x01306B47``, plain fp32 ``0``,
...); a "raw" blob (biases, PReLU slopes) is plain fp32 without a tag.

This module knows the generic format and the weight layout of the few layer types
Real-ESRGAN's ncnn files use (:data:`WEIGHTED_LAYERS`, :data:`WEIGHTLESS_LAYERS`). It
returns plain numpy arrays; mapping a graph to an architecture is
:mod:`reelsmith.models.ncnn_convert`. Every malformed or unsupported file is a
ModelError with a sentence, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reelsmith.errors import ModelError

MAGIC = "7767517"
FP16_TAG = 0x01306B47
INT8_TAG = 0x000D4B38
FP32_SCALED_TAG = 0x0002C056

#: Layer types whose weights this reader can take from a ``.bin``.
WEIGHTED_LAYERS = ("Convolution", "PReLU")
#: Layer types that carry no weights (graph plumbing and parameter-free ops).
WEIGHTLESS_LAYERS = ("Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp",
                     "PixelShuffle")


@dataclass
class NcnnLayer:
    """One line of a ``.param``: ``params`` maps integer keys to an int, a float or a list."""

    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, int | float | list[int | float]] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # filled by read_weights

    def get(self, key: int, default: int | float | list | None = None):
        return self.params.get(key, default)


@dataclass
class NcnnGraph:
    """A parsed ``.param``: its layers in file order, and where it came from."""

    path: Path
    layers: list[NcnnLayer]

    def of_type(self, kind: str) -> list[NcnnLayer]:
        return [layer for layer in self.layers if layer.type == kind]


def _number(text: str, where: str) -> int | float:
    try:
        if any(c in text for c in ".eE") and not text.lower().startswith("0x"):
            return float(text)
        return int(text, 0)
    except ValueError:
        raise ModelError(f"{where}: {text!r} is not a number.") from None


def _parse_value(key: int, text: str, where: str) -> tuple[int, int | float | list]:
    if key <= -23300:
        parts = [p for p in text.split(",") if p]
        count = int(_number(parts[0], where)) if parts else 0
        values = [_number(p, where) for p in parts[1:]]
        if len(values) != count:
            raise ModelError(f"{where}: array parameter {key} says {count} values but has "
                             f"{len(values)}.")
        return -23300 - key, values
    return key, _number(text, where)


def parse_param(path: Path) -> NcnnGraph:
    """Parse an ncnn ``.param`` text file (the binary ``.param.bin`` form is not supported)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelError(f"{path.name} is not an ncnn .param text file (binary content); "
                         "export the model with ncnn's text .param.") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0] != MAGIC:
        raise ModelError(f"{path.name} is not an ncnn .param file (its first line is not the "
                         f"ncnn magic number {MAGIC}).")
    try:
        layer_count, _blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError):
        raise ModelError(f"{path.name}: the second line must hold the layer and blob counts."
                         ) from None
    layers = []
    for lineno, line in enumerate(lines[2:], start=3):
        where = f"{path.name} line {lineno}"
        fields = line.split()
        try:
            kind, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
        except (IndexError, ValueError):
            raise ModelError(f"{where} is not an ncnn layer line (type name inputs outputs ...)."
                             ) from None
        blobs = fields[4:4 + n_in + n_out]
        if len(blobs) != n_in + n_out:
            raise ModelError(f"{where}: the layer {name} lists fewer blobs than it declares.")
        params: dict[int, int | float | list] = {}
        for item in fields[4 + n_in + n_out:]:
            key_text, sep, value = item.partition("=")
            if not sep:
                raise ModelError(f"{where}: parameter {item!r} is not key=value.")
            key, parsed = _parse_value(int(_number(key_text, where)), value, where)
            params[key] = parsed
        layers.append(NcnnLayer(kind, name, blobs[:n_in], blobs[n_in:], params))
    if len(layers) != layer_count:
        raise ModelError(f"{path.name} declares {layer_count} layers but lists {len(layers)}; "
                         "the file is truncated or edited.")
    return NcnnGraph(path, layers)


class _BinReader:
    """Sequential reads from a ``.bin`` with sentences for every way it can be short."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        self.pos = 0

    def take(self, nbytes: int, layer: NcnnLayer) -> bytes:
        end = self.pos + nbytes
        if end > len(self.data):
            raise ModelError(f"{self.path.name} is truncated: the weights of layer {layer.name} "
                             f"end at byte {end} but the file has {len(self.data)} bytes; "
                             "download it again.")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def raw(self, count: int, layer: NcnnLayer) -> np.ndarray:
        """``count`` plain fp32 values (ncnn's untagged blobs: biases, slopes)."""
        return np.frombuffer(self.take(4 * count, layer), dtype="<f4").copy()

    def tagged(self, count: int, layer: NcnnLayer) -> np.ndarray:
        """``count`` values behind a 4-byte storage tag, as float32."""
        head = self.take(4, layer)
        tag = int.from_bytes(head, "little")
        if tag == FP16_TAG:
            data = self.take(-(-2 * count // 4) * 4, layer)  # fp16 data is padded to 4 bytes
            return np.frombuffer(data[:2 * count], dtype="<f2").astype(np.float32)
        if tag in (0, FP32_SCALED_TAG):
            return np.frombuffer(self.take(4 * count, layer), dtype="<f4").copy()
        kind = "int8-quantized" if tag == INT8_TAG else "table-quantized"
        raise ModelError(f"{self.path.name}: layer {layer.name} stores {kind} weights "
                         f"(tag 0x{tag:08X}); only fp16 and fp32 ncnn weights can be converted. "
                         "Use the model's fp16/fp32 release.")


def read_weights(graph: NcnnGraph, bin_path: Path) -> None:
    """Fill ``layer.weights`` for every layer of ``graph`` from ``bin_path``.

    Convolution: ``weight`` (out, in, kh, kw) and ``bias`` (out) when ``5=1``; PReLU:
    ``slope`` (count). Raises ModelError for a layer type it cannot read, a truncated file,
    quantized weights, or bytes left over (a ``.bin`` of another network).
    """
    reader = _BinReader(Path(bin_path))
    for layer in graph.layers:
        if layer.type == "Convolution":
            out_ch = int(layer.get(0, 0))
            kw = int(layer.get(1, 0))
            kh = int(layer.get(11, kw))
            size = int(layer.get(6, 0))
            if int(layer.get(8, 0)) or int(layer.get(19, 0)):
                raise ModelError(f"{graph.path.name}: layer {layer.name} is an int8 or dynamic-"
                                 "weight convolution, which cannot be converted.")
            if out_ch <= 0 or kw <= 0 or size % (out_ch * kw * kh):
                raise ModelError(f"{graph.path.name}: layer {layer.name} has inconsistent "
                                 f"convolution sizes ({out_ch} outputs, {kw}x{kh} kernel, "
                                 f"{size} weights).")
            in_ch = size // (out_ch * kw * kh)
            layer.weights["weight"] = reader.tagged(size, layer).reshape(out_ch, in_ch, kh, kw)
            if int(layer.get(5, 0)):
                layer.weights["bias"] = reader.raw(out_ch, layer)
        elif layer.type == "PReLU":
            layer.weights["slope"] = reader.raw(int(layer.get(0, 0)), layer)
        elif layer.type not in WEIGHTLESS_LAYERS:
            raise ModelError(f"{graph.path.name} uses the ncnn layer {layer.type} "
                             f"({layer.name}), which reelsmith cannot convert; ncnn files of "
                             "Real-ESRGAN (RRDBNet) and Real-ESRGAN Compact (SRVGGNetCompact) "
                             "are supported.")
    left = len(reader.data) - reader.pos
    if left:
        raise ModelError(f"{reader.path.name} has {left} bytes more than {graph.path.name} "
                         "reads; the .bin belongs to another network.")
