"""``reelsmith restore-photo IN -o OUT [--scratches] [--dust] [--denoise] [--faces] [--colorize]
[--upscale 2] [--save-mask] [--reference REF.jpg] [--hints HINTS.png]``.

Flags come from the workflow's ``Params`` (:mod:`reelsmith.cli.params_args`); the reference
photo and the hint image are the workflow's optional inputs, given as named options.
"""

from __future__ import annotations

import argparse
from typing import Any

from reelsmith.cli.output import add_output_options, print_summary, run_and_report
from reelsmith.cli.params_args import attach_params, params_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("restore-photo", help="repair an old photo: scratches, dust, noise, "
                                             "faces, colour, size")
    p.add_argument("input", help="the photo or scan (PNG, JPEG, TIFF, WebP), or an http(s) URL")
    p.add_argument("--reference", metavar="REF_IMG",
                   help="with --colorize: a colour photo of a similar scene to take colours from")
    p.add_argument("--hints", metavar="HINTS_IMG",
                   help="with --colorize: an image with colour scribbles")
    add_output_options(p)
    attach_params(p, "reelsmith.workflows.restore_photo:RestorePhotoParams")
    p.set_defaults(func=_cmd)


def _summary(data: dict[str, Any]) -> None:
    print_summary(data)
    meta = data.get("metadata", {})
    d = meta.get("defects")
    if d:
        print(f"  defects: {d['scratches']} scratches, {d['specks']} specks, "
              f"{d['area_percent']:.2f}% of the picture repaired")
    n = meta.get("denoise")
    if n:
        print(f"  noise:   {n['noise_before']} -> {n['noise_after']} (0-255 scale)")
    print(f"  steps:   {', '.join(meta.get('steps') or ['none'])}")
    if meta.get("message"):
        print(f"  note:    {meta['message']}")
    if "mask" in data.get("outputs", {}):
        print(f"  mask:    {data['outputs']['mask']}")


def _cmd(args: argparse.Namespace) -> int:
    params = params_from_args(args, args.param_specs)
    inputs: dict[str, Any] = {"image": args.input}
    if args.reference:
        inputs["reference"] = args.reference
    if args.hints:
        inputs["hints"] = args.hints
    return run_and_report(args, "restore_photo", [], params, _summary, inputs=inputs)
