"""Throughput of neural models (random weights, real architectures) vs the classical ops.

Models: SRVGGNetCompact x4 (realesr-animevideov3 size: 64 features, 16 convs), RRDBNet x4
(RealESRGAN_x4plus size: 64 features, 23 blocks), RIFE 4.x IFNet (4.10+ layout: widths
192/128/96/64, feature encoder). Backends: ONNX Runtime CPU and PyTorch CPU (CUDA/TensorRT
rows appear when run on a machine that has them: --backends ort-cuda,ort-trt,torch-cuda).

Super-resolution on a CPU is far too slow for whole 540p/720p frames in a benchmark run, so
SR rows time --sr-tile-sized tiles and extrapolate: frame time = tiles per frame (with the
16-px overlap the upscaler uses) x measured time per tile; the "measured" column says so.
RIFE and the classical algorithms run on whole frames. Each case runs in its own process
so that "peak MB" is that case's peak resident memory (including the runtime itself).

Usage: .venv/bin/python benchmarks/models_speed.py [--res 540p,720p] [--frames 2]
       [--sr-tile 64] [--backends ort-cpu,torch-cpu] [--skip rrdb]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

RES = {"540p": (960, 540), "720p": (1280, 720), "1080p": (1920, 1080)}
MODELS = ("compact", "rrdb", "rife")


def _frames(w: int, h: int, n: int = 2) -> list[np.ndarray]:
    """Consecutive frames of one smooth textured scene panning 3 px per frame."""
    import cv2

    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (h // 8 + 4, w // 8 + 4, 3)).astype(np.uint8)
    big = cv2.resize(big, ((w // 8 + 4) * 8, (h // 8 + 4) * 8), interpolation=cv2.INTER_CUBIC)
    return [np.ascontiguousarray(big[2 * i:2 * i + h, 3 * i:3 * i + w]) for i in range(n)]


def prepare(dirpath: Path, skip: set[str]) -> None:
    """Write random-weight models as .pth and .onnx into ``dirpath``."""
    import torch
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN

    from reelsmith.models.rife import make_random_ifnet, published_state_dict

    torch.manual_seed(0)
    nets = {}
    if "compact" not in skip:
        nets["compact"] = Compact(num_feat=64, num_conv=16, upscale=4)
    if "rrdb" not in skip:
        nets["rrdb"] = ESRGAN(num_filters=64, num_blocks=23, scale=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, net in nets.items():
            net.eval()
            torch.save(net.state_dict(), dirpath / f"{name}.pth")
            torch.onnx.export(net, (torch.rand(1, 3, 64, 64),), str(dirpath / f"{name}.onnx"),
                              dynamo=False, opset_version=17, input_names=["input"],
                              output_names=["output"],
                              dynamic_axes={"input": {0: "N", 2: "H", 3: "W"},
                                            "output": {0: "N", 2: "OH", 3: "OW"}})
        if "rife" not in skip:
            rife = make_random_ifnet(widths=(192, 128, 96, 64), enc="head", feat=8)
            torch.save(published_state_dict(rife), dirpath / "rife.pth")
            a = torch.rand(1, 3, 64, 64)
            torch.onnx.export(rife, (a, a, torch.full((1, 1, 64, 64), 0.5)),
                              str(dirpath / "rife.onnx"), dynamo=False, opset_version=17,
                              input_names=["img0", "img1", "timestep"], output_names=["output"],
                              dynamic_axes={k: {2: "H", 3: "W"}
                                            for k in ("img0", "img1", "timestep", "output")})


def _backend_args(backend: str) -> tuple[str, str]:
    """(file suffix, device) for a backend name."""
    return {"ort-cpu": (".onnx", "cpu"), "ort-cuda": (".onnx", "cuda"),
            "ort-trt": (".onnx", "tensorrt"), "torch-cpu": (".pth", "cpu"),
            "torch-cuda": (".pth", "cuda")}[backend]


def run_case(model: str, backend: str, res: str, frames: int, tile: int, dirpath: Path,
             precision: str) -> dict:
    w, h = RES[res]
    imgs = _frames(w, h, 2)
    if model == "classical-up":
        from reelsmith.ops.upscale import ClassicalUpscaler

        up = ClassicalUpscaler(scale=4)
        up.upscale(imgs[0])
        times = []
        for i in range(frames):
            t0 = time.perf_counter()
            up.upscale(imgs[i % 2])
            times.append(time.perf_counter() - t0)
        return {"fps": 1.0 / min(times), "measured": f"best of {frames} frames"}
    if model == "classical-interp":
        from reelsmith.ops.interpolate import FlowInterpolator

        fi = FlowInterpolator(quality="medium")
        fi.interpolate(fi.prepare(imgs[0], imgs[1]), 0.5)
        times = []
        for _ in range(frames):
            t0 = time.perf_counter()
            fi.interpolate(fi.prepare(imgs[0], imgs[1]), 0.5)
            times.append(time.perf_counter() - t0)
        return {"fps": 1.0 / min(times), "measured": f"best of {frames} frames"}

    from reelsmith.models import load_model
    from reelsmith.models.adapters import ModelInterpolator

    suffix, device = _backend_args(backend)
    m = load_model(dirpath / f"{model}{suffix}", device=device, precision=precision)
    info = {"provider": m.provider, "precision": m.precision}
    if model == "rife":
        interp = ModelInterpolator(m)
        interp.interpolate(interp.prepare(imgs[0], imgs[1]), 0.5)  # warm-up
        times = []
        for _ in range(frames):
            t0 = time.perf_counter()
            interp.interpolate(interp.prepare(imgs[0], imgs[1]), 0.5)
            times.append(time.perf_counter() - t0)
        return {**info, "fps": 1.0 / min(times), "measured": f"best of {frames} frames"}
    from reelsmith.models.tiling import tile_starts

    x = np.random.default_rng(0).random((1, 3, tile, tile), dtype=np.float32)
    m.run(x)  # warm-up
    times = []
    for _ in range(3):  # best of 3: the machine is shared, the minimum is the least disturbed
        t0 = time.perf_counter()
        m.run(x)
        times.append(time.perf_counter() - t0)
    per_tile = min(times)
    n_tiles = len(tile_starts(h, tile, 16)) * len(tile_starts(w, tile, 16))
    return {**info, "fps": 1.0 / (per_tile * n_tiles),
            "measured": f"best of 3 {tile}px tiles x{n_tiles}/frame"}


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would include the parent's, as Linux keeps
    it across exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("REELSMITH_MODELS", str(args.dir))
    out = run_case(args.case, args.backend, args.res_one, args.frames, args.sr_tile,
                   Path(args.dir), args.precision)
    out["peak_mb"] = _peak_rss_mb()
    print("RESULT " + json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", default="540p,720p")
    ap.add_argument("--backends", default="ort-cpu,torch-cpu")
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--sr-tile", type=int, default=64)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--skip", default="", help="comma list of compact,rrdb,rife,classical")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--backend", help=argparse.SUPPRESS)
    ap.add_argument("--res-one", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        child(args)
        return
    skip = {s for s in args.skip.split(",") if s}
    cases: list[tuple[str, str, str]] = []
    for res in args.res.split(","):
        for model in MODELS:
            if model not in skip:
                cases += [(model, b, res) for b in args.backends.split(",")]
        if "classical" not in skip:
            cases += [("classical-up", "opencv", res), ("classical-interp", "opencv", res)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="reelsmith-bench-") as tmp:
        print("preparing random-weight models ...", file=sys.stderr)
        prepare(Path(tmp), skip)
        for model, backend, res in cases:
            cmd = [sys.executable, __file__, "--case", model, "--backend", backend,
                   "--res-one", res, "--dir", tmp, "--frames", str(args.frames),
                   "--sr-tile", str(args.sr_tile), "--precision", args.precision]
            print(f"running {model} / {backend} / {res} ...", file=sys.stderr)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not line:
                err = (proc.stderr.strip().splitlines() or ["failed"])[-1]
                rows.append((model, backend, res, "-", "-", "-", f"error: {err[:60]}"))
                continue
            r = json.loads(line[0][7:])
            label = {"compact": "SRVGGNetCompact x4", "rrdb": "RRDBNet x4", "rife": "RIFE 4.x",
                     "classical-up": "classical upscale x4 (lanczos+sharpen)",
                     "classical-interp": "classical flow interp (medium)"}[model]
            prec = r.get("precision", "-")
            rows.append((label, r.get("provider", backend), res, prec, f"{r['fps']:.3g}",
                         f"{r['peak_mb']:.0f}", r["measured"]))
    head = ("model", "backend", "res", "prec", "fps", "peak MB", "measured")
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    print(f"cpu cores: {os.cpu_count()}")
    for row in [head, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(v).ljust(widths[i]) for i, v in enumerate(row)))


if __name__ == "__main__":
    main()
