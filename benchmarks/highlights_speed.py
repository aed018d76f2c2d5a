"""Speed of highlight analysis on a 10-minute 720p video (goal: >= 10x faster than real time
on 2 cores). Prints the time per signal.

The video is built in a temporary directory from the real clips in ../shared/data/video
(looped, scaled to 720p) alternating with synthetic footage, with a synthetic sound track.

    .venv/bin/python benchmarks/highlights_speed.py [--minutes 10] [--keep PATH] [--render]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from highlights_media import StitchWriter, cheer, clip_frames, real_clips, synthetic_frames  # noqa: E402


def build(path: Path, minutes: float, width: int = 1280, height: int = 720, fps: int = 25) -> None:
    clips = real_clips()
    w = StitchWriter(path, width, height, fps)
    total = int(minutes * 60 * fps)
    rng = np.random.default_rng(0)
    part = 0
    while w.n < total:
        secs = float(rng.uniform(4, 12))
        want = min(int(secs * fps), total - w.n)
        if clips and part % 2 == 0:
            clip = clips[(part // 2) % len(clips)]
            got = 0
            while got < want:  # loop short clips to fill the part
                got += w.frames(clip_frames(clip, width, height), limit=want - got)
        else:
            kind = ["motion", "still", "pan"][part % 3]
            w.frames(synthetic_frames(kind, width, height, want, part))
        secs = want / fps
        kind_a = part % 4
        if kind_a == 0:
            audio = (0.01 * rng.standard_normal(int(secs * 48000))).astype(np.float32)
        elif kind_a == 1:
            audio = cheer(secs, part)
        elif kind_a == 2:
            t = np.arange(int(secs * 48000)) / 48000
            audio = (0.2 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)
        else:
            audio = np.zeros(int(secs * 48000), np.float32)
        w.sound(audio, secs)
        part += 1
    w.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the test video at this path")
    ap.add_argument("--render", action="store_true", help="also time a 60 s reel render")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    import cv2

    from reelsmith.analysis.pipeline import analyze
    from reelsmith.media.probe import probe

    cv2.setNumThreads(2)
    if not real_clips():
        print("note: ../shared/data/video not found; using synthetic footage only")
    with tempfile.TemporaryDirectory() as d:
        src = args.keep or Path(d) / "long.mp4"
        if not src.exists():
            t = time.perf_counter()
            build(src, args.minutes)
            print(f"built {src.name} in {time.perf_counter() - t:.1f} s")
        info = probe(src)
        print(f"input: {info.width}x{info.height} {float(info.fps):g} fps, {info.duration:.1f} s, "
              f"{os.cpu_count()} CPUs visible")
        t = time.perf_counter()
        an = analyze(src)
        wall = time.perf_counter() - t
        print()
        print(f"{'signal':<16}{'seconds':>10}{'x real time':>14}")
        for k, v in an.timings.items():
            print(f"{k:<16}{v:>10.2f}{(info.duration / v if v > 0 else float('inf')):>14.0f}")
        print(f"{'TOTAL analysis':<16}{wall:>10.2f}{info.duration / wall:>14.1f}")
        print(f"\nscenes: {len(an.cuts) + 1}, speech ratio {an.speech.ratio:.2f}, "
              f"frames analysed {an.frames_analysed} of {info.frame_count}, "
              f"analysis size {an.extra['analysis_size']}")
        print("goal >= 10x real time:", "PASS" if info.duration / wall >= 10 else "MISS")
        if args.render:
            import reelsmith

            t = time.perf_counter()
            res = reelsmith.run("highlights", str(src), output=str(Path(d) / "reel.mp4"),
                                target_duration=60)
            print(f"full workflow (analysis + 60 s reel render): {time.perf_counter() - t:.1f} s, "
                  f"reel {res.metadata['output_duration']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
