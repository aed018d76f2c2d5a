"""``reelsmith highlights IN -o OUT --duration 60 [--vertical MODE] [--subtitles MODE]``.

The reel's flags are generated from ``HighlightsParams`` (:mod:`reelsmith.cli.params_args`);
input, output, ``--json`` and ``--quiet`` are written here.
"""

from __future__ import annotations

import argparse
from typing import Any

from reelsmith.cli.output import add_output_options
from reelsmith.cli.params_args import attach_params, params_from_args
from reelsmith.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("highlights", help="make a short highlight reel of a long video",
                       description="Cut the best moments of a video into a short reel.")
    p.add_argument("input", help="video file, or an http(s) URL")
    add_output_options(p, "output .mp4 (default: <input>_highlights.mp4)")
    attach_params(p, "reelsmith.workflows.highlights:HighlightsParams")
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace) -> int:
    from reelsmith.cli.output import run_and_report

    params = params_from_args(args, args.param_specs)
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
