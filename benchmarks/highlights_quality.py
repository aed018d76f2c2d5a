"""Quality of highlight selection on a stitched video with planted highlights.

Planted: loud speech (espeak-ng, or a speech-like synthetic voice when it is missing), fast
motion, cheering-like crowd noise over real footage. Dull: static frames with quiet room tone.
Reports how much of the planted time the reel covers and how much dull time it includes.

    .venv/bin/python benchmarks/highlights_quality.py [--target SECONDS] [--vertical MODE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from highlights_media import (  # noqa: E402
    StitchWriter,
    cheer,
    clip_frames,
    real_clips,
    speech_wav,
    synthetic_frames,
)

LINES = [
    "What a goal! Absolutely incredible, he beat three defenders and scored!",
    "Ladies and gentlemen, this is the moment we have all been waiting for!",
    "No way! Did you see that? That was the best play of the whole season!",
]
LAYOUT = [("dull", 20), ("speech", 8), ("dull", 25), ("motion", 8), ("dull", 20),
          ("cheer", 8), ("dull", 25), ("speech", 7), ("dull", 15), ("action", 8), ("dull", 15)]


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    reps = int(np.ceil(n / max(1, x.size)))
    y = np.tile(x, reps)[:n]
    out[: y.size] = y
    return out


def build(path: Path, width: int = 640, height: int = 360, fps: int = 25) -> dict:
    clips = real_clips()
    still_src = next((c for c in clips if "carphone" in c.name), clips[0] if clips else None)
    still = next(clip_frames(still_src, width, height)) if still_src else None
    moving = next((c for c in clips if "bikes" in c.name), None)
    rng = np.random.default_rng(7)
    w = StitchWriter(path, width, height, fps)
    spans: dict[str, list[tuple[float, float]]] = {}
    t = 0.0
    speech_backend = "espeak-ng"
    for i, (kind, secs) in enumerate(LAYOUT):
        n = secs * fps
        if kind in ("dull", "speech"):
            w.frames(synthetic_frames("still", width, height, n, i, still=still))
        elif kind in ("motion", "action") or moving is None:
            w.frames(synthetic_frames("motion", width, height, n, i))
        else:  # cheer: real moving footage, looped
            got = 0
            while got < n:
                got += w.frames(clip_frames(moving, width, height), limit=n - got)
        samples = secs * 48000
        room = (0.004 * rng.standard_normal(samples)).astype(np.float32)
        if kind == "speech":
            sp = speech_wav(LINES[i % len(LINES)])
            if sp is None:
                speech_backend = "synthetic"
                tt = np.arange(samples) / 48000
                sp = (0.4 * np.sin(2 * np.pi * 150 * tt) * (np.sin(2 * np.pi * 3 * tt) > 0))
            audio = room + 0.9 * _fit(sp / max(1e-6, np.abs(sp).max()), samples)
        elif kind == "cheer":
            audio = room + cheer(secs, i)
        elif kind == "action":
            audio = room + 0.8 * cheer(secs, i)
        elif kind == "motion":
            audio = room + (0.05 * rng.standard_normal(samples)).astype(np.float32)
        else:
            audio = room
        w.sound(np.clip(audio, -1, 1), secs)
        spans.setdefault(kind, []).append((t, t + secs))
        t += secs
    w.close()
    return {"spans": spans, "duration": t, "speech_backend": speech_backend}


def overlap(a, b) -> float:
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--target", type=float, help="reel length (default: total planted time)")
    ap.add_argument("--vertical", default="off")
    args = ap.parse_args()
    import reelsmith

    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "stitched.mp4"
        t = time.perf_counter()
        meta = build(src)
        print(f"built {meta['duration']:.0f} s test video in {time.perf_counter() - t:.1f} s "
              f"(speech: {meta['speech_backend']}, real footage: {bool(real_clips())})")
        spans = meta["spans"]
        planted = [s for k, v in spans.items() if k != "dull" for s in v]
        planted_total = sum(e - s for s, e in planted)
        target = args.target or planted_total
        t = time.perf_counter()
        res = reelsmith.run("highlights", str(src), output=str(Path(d) / "reel.mp4"),
                            target_duration=target, vertical=args.vertical)
        took = time.perf_counter() - t
        m = res.metadata
        segs = [(s["start"], s["end"]) for s in m["segments"]]
        reel = sum(e - s for s, e in segs)
        print(f"reel: {m['output_duration']:.1f} s of target {target:.0f} s, {len(segs)} segments, "
              f"workflow {took:.1f} s, method {m['processing_method']}")
        print()
        print(f"{'stretch':<10}{'planted s':>10}{'in reel s':>11}{'coverage':>10}")
        for kind in ("speech", "motion", "cheer", "action"):
            sp = spans.get(kind, [])
            tot = sum(e - s for s, e in sp)
            cov = overlap(segs, sp)
            print(f"{kind:<10}{tot:>10.1f}{cov:>11.1f}{cov / tot:>10.0%}")
        cov = overlap(segs, planted)
        dull = overlap(segs, spans["dull"])
        dull_total = sum(e - s for s, e in spans["dull"])
        print(f"{'ALL':<10}{planted_total:>10.1f}{cov:>11.1f}{cov / planted_total:>10.0%}")
        print(f"\ndull time in reel: {dull:.1f} s ({dull / max(reel, 1e-6):.0%} of the reel; "
              f"{dull / dull_total:.1%} of all dull time)")
        print("segments:", ", ".join(f"{s:.1f}-{e:.1f}" for s, e in segs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
