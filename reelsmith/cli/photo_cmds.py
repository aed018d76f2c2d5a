"""Old-photo commands: ``reelsmith colorize IN -o OUT [--hints FILE] [--reference REF] ...``.

Flags come from the workflow's ``Params`` (:mod:`reelsmith.cli.params_args`); the optional
``--hints`` and ``--reference`` files are the workflow's named inputs.
"""

from __future__ import annotations

import argparse
from typing import Any

from reelsmith.cli.output import add_output_options, print_summary, run_and_report
from reelsmith.cli.params_args import attach_params, params_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("colorize", help="give a black-and-white photo or video colour")
    p.add_argument("input", help="black-and-white image or video file, or an http(s) URL")
    p.add_argument("--hints", metavar="FILE",
                   help="colour hints: a .json of points/strokes, or the photo with colour "
                        "scribbles painted on it")
    p.add_argument("--reference", metavar="REF",
                   help="a colour photo of a similar scene to take the colours from")
    add_output_options(p)
    attach_params(p, "reelsmith.workflows.colorize:ColorizeParams")
    p.set_defaults(func=_cmd_colorize)


def _colorize_summary(data: dict[str, Any]) -> None:
    print_summary(data)
    meta = data.get("metadata", {})
    line = f"  mode:    {meta.get('mode')}"
    flicker = (meta.get("colorize") or {}).get("chroma_flicker")
    if flicker is not None:
        line += f", chroma flicker {flicker:.3f}"
    print(line)


def _cmd_colorize(args: argparse.Namespace) -> int:
    params = params_from_args(args, args.param_specs)
    inputs = {"input": args.input}
    if args.hints:
        inputs["hints"] = args.hints
    if args.reference:
        inputs["reference"] = args.reference
    return run_and_report(args, "colorize", [], params, _colorize_summary, inputs=inputs)
