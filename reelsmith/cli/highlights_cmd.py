"""``reelsmith highlights IN -o OUT --duration 60 [--vertical MODE] [--subtitles MODE]``."""

from __future__ import annotations

import argparse
from typing import Any

from reelsmith.errors import InputError


def _duration(raw: str) -> float | str:
    if raw.strip().lower() == "auto":
        return "auto"
    try:
        return float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds or 'auto'") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("highlights", help="make a short highlight reel of a long video",
                       description="Cut the best moments of a video into a short reel.")
    p.add_argument("input", help="video file, or an http(s) URL")
    p.add_argument("-o", "--output", help="output .mp4 (default: <input>_highlights.mp4)")
    p.add_argument("--duration", type=_duration, default=None,
                   help='reel length in seconds, or "auto" (default 60)')
    p.add_argument("--min-clip", type=float, help="shortest clip in seconds (default 2)")
    p.add_argument("--max-clip", type=float, help="longest clip in seconds (default 12)")
    p.add_argument("--vertical", nargs="?", const="center",
                   choices=["off", "center", "blur-pad", "follow"],
                   help="9:16 output (plain --vertical means center)")
    p.add_argument("--subtitles", nargs="?", const="srt", choices=["off", "srt", "burn"],
                   help="SRT/VTT from the transcript; burn also draws them (plain: srt)")
    p.add_argument("--method", choices=["auto", "visual", "multimodal"])
    p.add_argument("--crossfade", type=float, help="dissolve between clips in seconds")
    p.add_argument("--language", help='transcript language code (default "auto")')
    p.add_argument("--codec", help="video codec (default h264)")
    p.add_argument("--crf", type=int, help="encoder quality (lower is better)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=_cmd)


_FLAGS = {"duration": "target_duration", "min_clip": "min_clip", "max_clip": "max_clip",
          "vertical": "vertical", "subtitles": "subtitles", "method": "method",
          "crossfade": "crossfade", "language": "language", "codec": "codec", "crf": "crf"}


def _cmd(args: argparse.Namespace) -> int:
    from reelsmith.cli.output import run_and_report

    params: dict[str, Any] = {k: getattr(args, a) for a, k in _FLAGS.items()
                              if getattr(args, a, None) is not None}
    if args.output and not str(args.output).lower().endswith((".mp4", ".mov", ".mkv")):
        raise InputError(f"The reel must be written to an .mp4, .mov or .mkv file, not {args.output}.")
    return run_and_report(args, "highlights", [args.input], params, summary=_summary)


def _summary(data: dict[str, Any]) -> None:
    m = data["metadata"]
    print(m["message"])
    for key, path in data["outputs"].items():
        print(f"  {key}: {path}")
    print(f"  method: {m['processing_method']} ({m['reason']})")
    print(f"  scenes: {m['scene_count']}, speech: {100 * m['speech_ratio']:.0f}%, "
          f"output {m['output_width']}x{m['output_height']}, {m['output_duration']:.1f} s")
    for s in m["segments"]:
        print(f"    {s['start']:8.2f} - {s['end']:8.2f} s  score {s['score']:.2f}")
