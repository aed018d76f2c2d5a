"""``reelsmith faces detect IN [--json]``: the face commands.

Flags come from the workflows' ``Params`` (:mod:`reelsmith.cli.params_args`); ``--json``
prints the face report itself rather than the run summary.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from reelsmith.cli.output import print_json
from reelsmith.cli.params_args import attach_params, params_from_args


def register(sub: argparse._SubParsersAction) -> None:
    faces = sub.add_parser("faces", help="find faces in images and videos")
    fsub = faces.add_subparsers(dest="faces_command", required=True)
    p = fsub.add_parser("detect", help="every face in an image or a video, with track ids in video")
    p.add_argument("input", help="image or video file, or an http(s) URL")
    p.add_argument("-o", "--output", help="report file (default: <input>_face_detect.json beside the input)")
    p.add_argument("--json", action="store_true", help="print the face report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    attach_params(p, "reelsmith.workflows.face_detect:FaceDetectParams")
    p.set_defaults(func=_cmd_detect)


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
