"""Interpolation quality on the Middlebury "other" set (12 sequences).

For each sequence: frame10 and frame11 in, the true middle frame (frame10i11) to compare.
IE = mean absolute difference over all pixels and channels in [0, 255] (the published
definition); PSNR in dB; time = wall-clock per interpolated frame (flow included).

Methods: our interpolator (each quality preset), ffmpeg minterpolate (mi_mode=mci, the
defaults otherwise, through PyAV's filter graph), plain frame averaging, and DIS (medium)
with a plain linear warp (the reference classical baseline).

Run from the repo root:  .venv/bin/python benchmarks/interp_quality.py [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from _common import ffmpeg_filter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reelsmith.ops.interpolate import QUALITY_PRESETS, FlowInterpolator  # noqa: E402
from reelsmith.ops.warp import backward_warp, linear_intermediate_flows  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "interp" / "middlebury_other"

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]


def read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"Cannot read {path}.")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def averaging(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a.astype(np.float32) + b) / 2 + 0.5).astype(np.uint8)


def dis_linear(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DIS medium both ways, linear intermediate flows, bilinear warp, 50/50 blend."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ga, gb = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    f01, f10 = dis.calc(ga, gb, None), dis.calc(gb, ga, None)
    ft0, ft1 = linear_intermediate_flows(f01, f10, 0.5)
    wa = backward_warp(a, ft0).astype(np.float32)
    wb = backward_warp(b, ft1).astype(np.float32)
    return ((wa + wb) / 2 + 0.5).astype(np.uint8)


def minterpolate(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ffmpeg's minterpolate (motion-compensated): frames at 1 fps -> 2 fps, take t=0.5 s."""
    out = ffmpeg_filter([a, b, b], Fraction(1), "minterpolate=fps=2:mi_mode=mci", pix_fmt="yuv444p")
    for frame in out:
        if frame.pts is not None and frame.pts * frame.time_base == Fraction(1, 2):
            return frame.to_ndarray(format="rgb24")
    raise RuntimeError("minterpolate produced no frame at t=0.5")


def ours(quality: str) -> Method:
    interp = FlowInterpolator(quality=quality)
    return lambda a, b: interp.interpolate(interp.prepare(a, b), 0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", nargs="*", help="method names to run (default: all)")
    args = parser.parse_args()
    data: Path = args.data
    seqs = sorted(p.name for p in (data / "input").glob("*") if (p / "frame10.png").exists()) \
        if (data / "input").is_dir() else []
    if not seqs:
        print(f"Skipping: no Middlebury data under {data}.")
        return 0

    methods: dict[str, Method] = {f"builtin-flow {q}": ours(q) for q in QUALITY_PRESETS}
    methods["ffmpeg minterpolate (mci)"] = minterpolate
    methods["DIS medium + linear warp"] = dis_linear
    methods["frame averaging"] = averaging
    if args.only:
        methods = {k: v for k, v in methods.items() if any(o in k for o in args.only)}

    pairs = {s: (read_rgb(data / "input" / s / "frame10.png"),
                 read_rgb(data / "input" / s / "frame11.png"),
                 read_rgb(data / "gt" / s / "frame10i11.png")) for s in seqs}
    results: dict[str, dict[str, tuple[float, float, float]]] = {}
    for name, fn in methods.items():
        fn(*pairs[seqs[0]][:2])  # warm-up (allocations, OpenCV threads)
        results[name] = {}
        for s, (a, b, gt) in pairs.items():
            t0 = time.perf_counter()
            mid = fn(a, b)
            dt = time.perf_counter() - t0
            d = mid.astype(np.float64) - gt.astype(np.float64)
            ie = float(np.abs(d).mean())
            mse = float((d ** 2).mean())
            psnr = 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
            results[name][s] = (ie, psnr, dt)

    names = list(methods)
    width = max(len(n) for n in names)
    print(f"Middlebury 'other' ({len(seqs)} sequences): IE (lower is better) / PSNR dB\n")
    print(f"{'sequence':12s} " + " | ".join(f"{n:>{max(13, len(n))}s}" for n in names))
    for s in seqs:
        cells = [f"{results[n][s][0]:5.2f} / {results[n][s][1]:5.2f}" for n in names]
        print(f"{s:12s} " + " | ".join(f"{c:>{max(13, len(n))}s}" for c, n in zip(cells, names, strict=True)))
    print()
    print(f"{'method':{width}s}  {'IE':>6s}  {'PSNR':>6s}  {'ms/frame':>8s}")
    for n in names:
        vals = np.array(list(results[n].values()))
        print(f"{n:{width}s}  {vals[:, 0].mean():6.3f}  {vals[:, 1].mean():6.2f}  {vals[:, 2].mean() * 1000:8.0f}")
    print("\nReference (published): RIFE IE 1.956.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
