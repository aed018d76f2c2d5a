"""Peak memory (RSS) of interpolation on a 10 s and a 60 s 720p clip: it must be flat.

Each run is a fresh subprocess so that its peak RSS is its own.
Usage: python benchmarks/memory.py [--seconds 10 60] [--quality fast]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from _common import ROOT, machine, table

CHILD = r"""
import json, resource, sys, time
import reelsmith
t = time.time()
r = reelsmith.run("interpolate", sys.argv[1], output=sys.argv[2], multiplier=2,
                  quality=sys.argv[3], interpolation_model="builtin", preset="veryfast")
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.time() - t, "frames_out": r.metadata["frames_out"]}))
"""


def make_clip(path: Path, seconds: int, fps: int = 25) -> Path:
    """A 720p clip with motion and a tone, written fast (ultrafast x264)."""
    from mediagen import pattern, write_tone

    base = pattern(1280 + 400, 720, 0.0)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 1280, 720, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "20"}
        a = out.add_stream("aac", rate=48000)
        a.layout = "stereo"
        for i in range(seconds * fps):
            x = (i * 3) % 400
            img = np.ascontiguousarray(base[:, x:x + 1280])
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = i
            vf.time_base = Fraction(1, fps)
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        write_tone(out, a, seconds)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, nargs="+", default=[10, 60])
    ap.add_argument("--quality", default="fast")
    args = ap.parse_args()
    print(f"machine: {machine()}\n")
    rows = []
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        for s in args.seconds:
            clip = make_clip(tmp / f"clip{s}.mp4", s)
            proc = subprocess.run([sys.executable, "-c", CHILD, str(clip), str(tmp / f"out{s}.mp4"),
                                   args.quality], capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                raise SystemExit(proc.stderr)
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append([f"{s} s", s * 25, r["frames_out"], f"{r['peak_rss_mb']:.0f}",
                         f"{r['seconds']:.1f}", f"{s * 25 / r['seconds']:.1f}"])
    print(f"## Peak RSS, 720p 2x interpolation (builtin-flow {args.quality})")
    print(table(["clip", "frames in", "frames out", "peak RSS (MB)", "time (s)", "input fps"], rows))


if __name__ == "__main__":
    main()
