"""Shared helpers for the benchmark scripts (they print tables; they are not tests)."""

from __future__ import annotations

import os
import platform
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

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


def filter_graph(spec: str, **buffer: Any) -> av.filter.Graph:
    """A configured graph ``buffer -> spec (comma-separated filters) -> buffersink``.

    ``buffer`` goes to ``Graph.add_buffer`` (``template=stream`` or width/height/format/time_base).
    """
    g = av.filter.Graph()
    chain = [g.add_buffer(**buffer)]
    for part in spec.split(","):
        name, _, args = part.partition("=")
        chain.append(g.add(name, args) if args else g.add(name))
    chain.append(g.add("buffersink"))
    for a, b in zip(chain, chain[1:], strict=False):
        a.link_to(b)
    g.configure()
    return g


def pull_ready(g: av.filter.Graph) -> list[av.VideoFrame]:
    """Every frame the graph can give now (after a push, or all of them after ``push(None)``)."""
    out: list[av.VideoFrame] = []
    while True:
        try:
            out.append(g.pull())
        except (av.BlockingIOError, av.EOFError):
            return out


def ffmpeg_filter(frames: list[np.ndarray], fps: Fraction, spec: str,
                  pix_fmt: str = "yuv420p") -> list[av.VideoFrame]:
    """Run ``spec`` (an FFmpeg filter chain) over RGB frames through PyAV's filter graph.

    Frame i is pushed with pts i in a 1/fps time base.
    """
    h, w = frames[0].shape[:2]
    g = filter_graph(spec, width=w, height=h, format=pix_fmt, time_base=1 / fps)
    out: list[av.VideoFrame] = []
    for i, img in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
        vf.pts = i
        vf.time_base = 1 / fps
        g.push(vf)
        out += pull_ready(g)
    g.push(None)
    return out + pull_ready(g)
