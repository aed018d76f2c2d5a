"""Tiled inference for image-to-image models, with seamless blending.

The image is cut into tiles of ``tile`` pixels that overlap their neighbours by at least
``overlap`` pixels. Each tile runs through the model; in every overlap the two results are
cross-faded over a ``feather``-pixel band centred in the overlap (a hard cut at the centre
when ``feather`` is 0), and the weights are normalised, so there is no visible seam.

Exactness: a pixel's value from a tile only depends on real image content when the pixel is
at least ``r`` pixels (the model's receptive radius) away from the tile's inner edges. Only
pixels at least ``(overlap - feather) / 2`` away get a non-zero weight, so the tiled result
equals the untiled one (to float rounding) whenever ``r <= (overlap - feather) / 2``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from reelsmith.errors import ModelError

log = logging.getLogger(__name__)

RunFn = Callable[[np.ndarray], np.ndarray]  # NCHW float32 -> NCHW float32

MIN_TILE = 32
MAX_AUTO_TILE = 1024
# Rough working-set estimate of a convolutional SR network per input pixel (fp32, x4
# RRDBNet-class, all intermediate activations live). Used only for the automatic tile size.
BYTES_PER_PIXEL_FP32 = 16 * 1024


@dataclass
class TileOptions:
    """``tile``: tile edge in input pixels (None or 0: automatic). ``overlap``: minimum
    overlap between neighbouring tiles. ``feather``: width of the cross-fade band (None:
    half the overlap). ``batch_size``: tiles per model call."""

    tile: int | None = None
    overlap: int = 16
    feather: int | None = None
    batch_size: int = 1


def is_out_of_memory(exc: BaseException) -> bool:
    """True for the out-of-memory errors of numpy, PyTorch (CPU/CUDA) and ONNX Runtime."""
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    if name in {"OutOfMemoryError"}:
        return True
    text = str(exc).lower()
    return any(s in text for s in (
        "out of memory", "failed to allocate", "bad_alloc", "cudnn_status_alloc_failed",
        "cuda_error_out_of_memory", "cannot allocate memory", "can't allocate memory",
    ))


def available_memory_bytes(device: str = "cpu") -> int:
    """Free memory on ``device`` ("cpu" or "cuda"); a conservative guess when unknown."""
    if device.startswith("cuda"):
        try:
            import torch

            if torch.cuda.is_available():
                free, _total = torch.cuda.mem_get_info()
                return int(free)
        except Exception:  # noqa: BLE001 - torch missing or no CUDA: fall back
            pass
        return 8 * 1024**3
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4 * 1024**3


def auto_tile_size(*, scale: int = 4, multiple: int = 1, device: str = "cpu",
                   precision: str = "fp32", free_bytes: int | None = None) -> int:
    """Largest tile (multiple of 32 and of ``multiple``) whose estimated working set fits in
    half of the free memory, between 32 and 1024 pixels."""
    free = available_memory_bytes(device) if free_bytes is None else free_bytes
    per_px = BYTES_PER_PIXEL_FP32 * max(1.0, scale * scale / 16.0)
    if precision in ("fp16", "bf16"):
        per_px /= 2
    side = int(math.sqrt(max(free, 0) * 0.5 / per_px))
    step = _lcm(32, max(1, multiple))
    side = min(MAX_AUTO_TILE, side) // step * step
    return max(step, side)


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Evenly spread tile starts so that every tile has the full ``tile`` size and
    neighbours overlap by at least ``overlap``."""
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    n = max(n, 2)
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def _ramp(n_out: int, start_out: int, centre: float, width: float) -> np.ndarray:
    """Weight rising from 0 to 1 across [centre - width/2, centre + width/2] (output px)."""
    x = np.arange(n_out, dtype=np.float64) + start_out + 0.5
    if width <= 0:
        return (x >= centre).astype(np.float64)
    return np.clip((x - (centre - width / 2.0)) / width, 0.0, 1.0)


def axis_weights(starts: Sequence[int], extent: int, feather: int, scale: int) -> list[np.ndarray]:
    """1-D blend weights (in output pixels) for tiles at ``starts`` of size ``extent``."""
    out: list[np.ndarray] = []
    n_out = extent * scale
    for i, s in enumerate(starts):
        w = np.ones(n_out, dtype=np.float64)
        if i > 0:
            prev_end = starts[i - 1] + extent
            width = prev_end - s
            centre = (s + prev_end) / 2.0 * scale
            w *= _ramp(n_out, s * scale, centre, min(feather, width) * scale)
        if i < len(starts) - 1:
            nxt = starts[i + 1]
            width = s + extent - nxt
            centre = (nxt + s + extent) / 2.0 * scale
            w *= 1.0 - _ramp(n_out, s * scale, centre, min(feather, width) * scale)
        out.append(w)
    return out


def pad_to(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad an HxWxC array at the bottom/right to (height, width), mirroring the content."""
    ph, pw = height - x.shape[0], width - x.shape[1]
    if ph <= 0 and pw <= 0:
        return x
    ph, pw = max(ph, 0), max(pw, 0)
    mode = "reflect" if min(x.shape[0], x.shape[1]) > 1 else "edge"
    return np.pad(x, ((0, ph), (0, pw), (0, 0)), mode=mode)


def _round_up(v: int, m: int) -> int:
    return -(-v // m) * m


def run_tiled(image: np.ndarray, run: RunFn, *, scale: int, tile: int | tuple[int, int],
              overlap: int = 16, feather: int | None = None, multiple: int = 1,
              fixed_size: tuple[int, int] | None = None, batch_size: int = 1) -> np.ndarray:
    """Run ``run`` over ``image`` (HxWxC float32 in [0,1]) tile by tile; returns
    (H*scale)x(W*scale)xC' float32.

    ``fixed_size``: the model only takes this (h, w); tiles are cut (or padded) to it.
    ``multiple``: tiles are padded so their sides are multiples of it.
    """
    h, w = image.shape[:2]
    if fixed_size:
        th, tw = fixed_size
    else:
        th, tw = (tile, tile) if isinstance(tile, int) else tile
        m = max(1, multiple)
        th, tw = max(m, th // m * m), max(m, tw // m * m)
    ov_y = max(0, min(overlap, th // 2))
    ov_x = max(0, min(overlap, tw // 2))
    fe = (min(ov_y, ov_x) // 2) if feather is None else max(0, feather)
    eh, ew = min(th, h), min(tw, w)  # tile extents actually cut from the image
    ys, xs = tile_starts(h, th, ov_y), tile_starts(w, tw, ov_x)
    wy, wx = axis_weights(ys, eh, min(fe, ov_y), scale), axis_weights(xs, ew, min(fe, ov_x), scale)
    if fixed_size:
        ph, pw = th, tw
    else:
        ph, pw = _round_up(eh, max(1, multiple)), _round_up(ew, max(1, multiple))

    acc: np.ndarray | None = None
    wsum = np.zeros((h * scale, w * scale, 1), dtype=np.float64)
    jobs = [(iy, ix) for iy in range(len(ys)) for ix in range(len(xs))]
    bs = max(1, batch_size)
    for b0 in range(0, len(jobs), bs):
        batch = jobs[b0:b0 + bs]
        tiles = [pad_to(image[ys[iy]:ys[iy] + eh, xs[ix]:xs[ix] + ew], ph, pw) for iy, ix in batch]
        x = np.ascontiguousarray(np.stack(tiles).transpose(0, 3, 1, 2), dtype=np.float32)
        y = run(x)
        if y.ndim != 4 or y.shape[0] != len(batch) or y.shape[2] != ph * scale \
                or y.shape[3] != pw * scale:
            raise ModelError(
                f"The model returned an output of shape {tuple(y.shape)} for an input of shape "
                f"{tuple(x.shape)}; expected {len(batch)}x?x{ph * scale}x{pw * scale} "
                f"(scale {scale}).")
        if acc is None:
            acc = np.zeros((h * scale, w * scale, y.shape[1]), dtype=np.float64)
        for k, (iy, ix) in enumerate(batch):
            out = y[k, :, :eh * scale, :ew * scale].transpose(1, 2, 0)
            wt = (wy[iy][:, None] * wx[ix][None, :])[:, :, None]
            oy, ox = ys[iy] * scale, xs[ix] * scale
            acc[oy:oy + eh * scale, ox:ox + ew * scale] += out * wt
            wsum[oy:oy + eh * scale, ox:ox + ew * scale] += wt
    assert acc is not None
    return (acc / np.maximum(wsum, 1e-12)).astype(np.float32)


def run_tiled_with_retry(image: np.ndarray, run: RunFn, *, scale: int, tile: int | None,
                         overlap: int = 16, feather: int | None = None, multiple: int = 1,
                         fixed_size: tuple[int, int] | None = None, batch_size: int = 1,
                         device: str = "cpu", precision: str = "fp32",
                         on_retry: Callable[[int], None] | None = None) -> np.ndarray:
    """:func:`run_tiled` with an automatic tile size and out-of-memory recovery: on OOM the
    batch is reduced to 1, then the tile is halved, down to 32 px; then a ModelError."""
    if fixed_size:
        return run_tiled(image, run, scale=scale, tile=fixed_size, overlap=overlap,
                         feather=feather, multiple=multiple, fixed_size=fixed_size,
                         batch_size=batch_size)
    size = tile or auto_tile_size(scale=scale, multiple=multiple, device=device,
                                  precision=precision)
    floor = max(MIN_TILE, multiple)
    while True:
        try:
            return run_tiled(image, run, scale=scale, tile=size, overlap=overlap,
                             feather=feather, multiple=multiple, batch_size=batch_size)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            _free_cuda_cache()
            if batch_size > 1:
                batch_size = 1
            elif size // 2 >= floor:
                size = max(floor, size // 2 // max(1, multiple) * max(1, multiple))
            else:
                raise ModelError(
                    f"The model ran out of memory even with {size}-pixel tiles; free memory "
                    "on the device, use a smaller model, or run on a larger GPU.") from exc
            log.warning("out of memory; retrying with tile %d, batch %d", size, batch_size)
            if on_retry:
                on_retry(size)


def _free_cuda_cache() -> None:
    try:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001
        pass
