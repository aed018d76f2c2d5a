"""720p 2x interpolation speed: each built-in preset vs ffmpeg minterpolate, same frames.

Reads 1280x720 frames from ../shared/data/video/bigbuckbunny.mp4 (skips when missing) and
reports interpolated frames per second (one new frame per input pair, flow included;
decoding excluded). Run from the repo root: .venv/bin/python benchmarks/interp_speed.py
"""

from __future__ import annotations

import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reelsmith.ops.interpolate import QUALITY_PRESETS, FlowInterpolator  # noqa: E402

CLIP = ROOT.parent / "shared" / "data" / "video" / "bigbuckbunny.mp4"


def main(n: int = 12) -> int:
    if not CLIP.exists():
        print(f"Skipping: {CLIP} not found.")
        return 0
    frames = []
    with av.open(str(CLIP)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= 40:
                frames.append(f.to_ndarray(format="rgb24"))
            if len(frames) >= n:
                break
    h, w = frames[0].shape[:2]
    rows = []
    for q in QUALITY_PRESETS:
        interp = FlowInterpolator(quality=q)
        interp.interpolate(interp.prepare(frames[0], frames[1]), 0.5)
        t0 = time.perf_counter()
        for a, b in zip(frames, frames[1:], strict=False):
            interp.interpolate(interp.prepare(a, b), 0.5)
        rows.append((f"builtin-flow {q}", (len(frames) - 1) / (time.perf_counter() - t0)))
    # minterpolate: stream the same frames at 1 fps -> 2 fps (one new frame per pair).
    graph = av.filter.Graph()
    src = graph.add_buffer(width=w, height=h, format="yuv420p", time_base=Fraction(1, 1))
    mi = graph.add("minterpolate", "fps=2:mi_mode=mci")
    sink = graph.add("buffersink")
    src.link_to(mi)
    mi.link_to(sink)
    graph.configure()
    yuv = [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p") for f in frames]
    t0 = time.perf_counter()
    for i, f in enumerate(yuv):
        f.pts = i
        f.time_base = Fraction(1, 1)
        graph.push(f)
        while True:
            try:
                graph.pull()
            except (av.BlockingIOError, av.EOFError):
                break
    rows.append(("ffmpeg minterpolate (mci)", (len(frames) - 1) / (time.perf_counter() - t0)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{w}x{h} 2x interpolation, {len(frames) - 1} pairs, {os.cpu_count()} CPUs, load {load:.1f}\n")
    mi_fps = rows[-1][1]
    print(f"{'method':28s} {'fps':>6s} {'vs minterpolate':>16s}")
    for name, fps in rows:
        print(f"{name:28s} {fps:6.1f} {fps / mi_fps:15.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
