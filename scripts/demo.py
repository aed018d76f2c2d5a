"""`make demo`: upscale 2x and interpolate to twice the frame rate, built-in algorithms.

Uses a real clip from ../shared/data/video when it exists (realshort.mp4: 320x240 at the
awkward 45000/1499 fps, with AAC audio); otherwise it synthesises a short clip.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import reelsmith  # noqa: E402


def pick_clip(out_dir: Path) -> Path:
    for candidate in (ROOT.parent / "shared" / "data" / "video" / "realshort.mp4",
                      ROOT / "shared" / "data" / "video" / "realshort.mp4"):
        if candidate.exists():
            return candidate
    sys.path.insert(0, str(ROOT / "tests"))
    from mediagen import make_video

    print("(no sample clip found: synthesising one)")
    return make_video(out_dir / "synthetic.mp4", width=320, height=240, fps=30, seconds=2.0)


def main() -> int:
    out_dir = ROOT / "demo-output"
    out_dir.mkdir(exist_ok=True)
    clip = pick_clip(out_dir)
    out = out_dir / f"{clip.stem}_2x_2xfps.mp4"
    print(f"input:  {clip}")
    t0 = time.monotonic()
    result = reelsmith.run("upscale_and_interpolation", clip, output=out, scale=2, multiplier=2,
                           model="builtin", interpolation_model="builtin")
    m = result.metadata
    i, o = m["input"], m["output"]
    print(f"output: {result.output}")
    print(f"did:    upscale x2 ({m['upscaler']['name']}) + interpolate x2 ({m['interpolator']['name']})")
    print(f"        {i['width']}x{i['height']} @ {i['fps']:.3f} fps, {i['duration']:.3f} s, {i['frames']} frames"
          f"  ->  {o['width']}x{o['height']} @ {o['fps']:.3f} fps, {o['duration']:.3f} s, {o['frames']} frames")
    print(f"        audio: {m['audio']}; scene cuts held: {m.get('scene_cuts', 0)}; "
          f"interpolated frames: {m.get('interpolated_frames')}")
    print(f"time:   {time.monotonic() - t0:.2f} s")
    (out_dir / "result.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
