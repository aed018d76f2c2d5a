"""Shared helpers for the benchmark scripts (they print tables; they are not tests)."""

from __future__ import annotations

import os
import platform
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def shared(*parts: str) -> Path | None:
    p = SHARED.joinpath(*parts)
    return p if p.exists() else None


def machine() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        cpu = next(line.split(":", 1)[1].strip() for line in text.splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, PyAV {av.__version__}"


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    return "\n".join([line, sep, *body])


def read_frames(path: Path, limit: int | None = None, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            out.append(f.to_ndarray(format="rgb24", width=size[0] if size else None,
                                    height=size[1] if size else None))
            if limit and len(out) >= limit:
                break
    return out


def ffmpeg_filter(frames: list[np.ndarray], fps: Fraction, spec: str) -> list[np.ndarray]:
    """Run ``spec`` (an FFmpeg filter chain) over RGB frames through PyAV's filter graph."""
    h, w = frames[0].shape[:2]
    g = av.filter.Graph()
    src = g.add_buffer(width=w, height=h, format="yuv420p", time_base=1 / fps)
    chain = [src]
    for part in spec.split(","):
        name, _, args = part.partition("=")
        chain.append(g.add(name, args) if args else g.add(name))
    sink = g.add("buffersink")
    chain.append(sink)
    for a, b in zip(chain, chain[1:], strict=False):
        a.link_to(b)
    g.configure()
    out: list[np.ndarray] = []

    def drain() -> None:
        while True:
            try:
                f = g.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            out.append(f)

    for i, img in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        vf.pts = i
        vf.time_base = 1 / fps
        g.push(vf)
        drain()
    g.push(None)
    drain()
    return out
