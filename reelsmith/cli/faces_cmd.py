"""The face commands: ``reelsmith faces detect IN [--json]``, ``reelsmith face-restore IN``
and ``reelsmith face-swap --source FACE_IMG [--source ...] TARGET``.

Flags come from the workflows' ``Params`` (:mod:`reelsmith.cli.params_args`); ``--json``
prints the face report itself rather than the run summary.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from reelsmith.cli.output import add_output_options, print_json, print_summary, run_and_report
from reelsmith.cli.params_args import attach_params, params_from_args


def register(sub: argparse._SubParsersAction) -> None:
    faces = sub.add_parser("faces", help="find faces in images and videos")
    fsub = faces.add_subparsers(dest="faces_command", required=True)
    p = fsub.add_parser("detect", help="every face in an image or a video, with track ids in video")
    p.add_argument("input", help="image or video file, or an http(s) URL")
    add_output_options(p, "report file (default: <input>_face_detect.json beside the input)")
    attach_params(p, "reelsmith.workflows.face_detect:FaceDetectParams")
    p.set_defaults(func=_cmd_detect)

    p = sub.add_parser("face-restore", help="restore the faces in a photo or a video")
    p.add_argument("input", help="image or video file, or an http(s) URL")
    add_output_options(p)
    attach_params(p, "reelsmith.workflows.face_restore:FaceRestoreParams")
    p.set_defaults(func=_cmd_restore)

    p = sub.add_parser("face-swap", help="put one person's face onto the faces of a photo or a video")
    p.add_argument("target", help="the image or video whose faces are replaced")
    p.add_argument("--source", action="append", required=True, metavar="FACE_IMG",
                   help="a photo of the person to put in (repeat for several photos of them)")
    add_output_options(p)
    attach_params(p, "reelsmith.workflows.face_swap:FaceSwapParams")
    p.set_defaults(func=_cmd_swap)


def _face_summary(data: dict[str, Any]) -> None:
    print_summary(data)
    meta = data.get("metadata", {})
    print(f"  faces:   {meta.get('faces')}" + (f" ({meta['message']})" if meta.get("message") else ""))
    ident = meta.get("identity")
    if ident:
        print(f"  identity ({ident['embedder']}): {ident['to_source']:.3f} to the source, "
              f"{ident['to_target']:.3f} to the original face")


def _cmd_restore(args: argparse.Namespace) -> int:
    params = params_from_args(args, args.param_specs)
    return run_and_report(args, "face_restore", [args.input], params, summary=_face_summary)


def _cmd_swap(args: argparse.Namespace) -> int:
    params = params_from_args(args, args.param_specs)
    return run_and_report(args, "face_swap", [args.target, *args.source], params,
                          summary=_face_summary)


def _summary(data: dict[str, Any]) -> None:
    meta = data.get("metadata", {})
    print(f"face_detect: {meta.get('message')} Report: {data['outputs'].get('report')}")
    print(f"  faces: {meta.get('faces')}, tracks: {meta.get('tracks')}, "
          f"skipped (too small): {meta.get('skipped_small')}")
    print(f"  backend: {meta.get('backend')} (model: {meta.get('model')})")


def _cmd_detect(args: argparse.Namespace) -> int:
    from reelsmith import api
    from reelsmith.cli.output import ProgressPrinter

    params = params_from_args(args, args.param_specs)
    bar = ProgressPrinter(enabled=not (args.quiet or args.json))
    try:
        result = api.run("face_detect", args.input, output=args.output, progress=bar, params=params)
    finally:
        bar.close()
    data = result.to_dict()
    if args.json:
        print_json(json.loads(Path(data["outputs"]["report"]).read_text()))
    elif not args.quiet:
        _summary(data)
    return 0
