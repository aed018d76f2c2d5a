"""``reelsmith upscale | interpolate | run | workflows``.

The workflow flags are generated from each workflow's ``Params`` model
(:mod:`reelsmith.cli.params_args`); only the options that are not parameters (input,
output, ``--json``, ``--quiet``, ``--param``) are written here.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from reelsmith.cli.output import add_output_options, print_json, run_and_report
from reelsmith.cli.params_args import attach_params, params_from_args
from reelsmith.errors import InputError


def _common(p: argparse.ArgumentParser) -> None:
    add_output_options(p)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="any workflow parameter (repeatable); values are parsed as JSON when possible")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upscale", help="upscale a video or an image")
    p.add_argument("input", help="video or image file, or an http(s) URL")
    _common(p)
    attach_params(p, "reelsmith.workflows.upscale:UpscaleParams")
    p.set_defaults(func=_cmd_workflow, workflow="upscale")

    p = sub.add_parser("interpolate", help="raise a video's frame rate")
    p.add_argument("input")
    _common(p)
    attach_params(p, "reelsmith.workflows.interpolate:InterpolateParams")
    p.set_defaults(func=_cmd_workflow, workflow="interpolate")

    p = sub.add_parser("run", help="run any workflow: reelsmith run NAME INPUT... [--param k=v]")
    p.add_argument("workflow")
    p.add_argument("inputs", nargs="+")
    _common(p)
    attach_params(p, "reelsmith.workflows.params:EncodeParams")
    p.set_defaults(func=_cmd_workflow)

    p = sub.add_parser("workflows", help="list workflows and their parameters")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_workflows)


def parse_param(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise InputError(f"--param {item!r} must look like key=value.")
    key, raw = item.split("=", 1)
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def _cmd_workflow(args: argparse.Namespace) -> int:
    params = params_from_args(args, args.param_specs)
    params.update(dict(parse_param(x) for x in args.param))
    sources = getattr(args, "inputs", None) or [args.input]
    return run_and_report(args, args.workflow, sources, params)


def _cmd_workflows(args: argparse.Namespace) -> int:
    from reelsmith.workflows import list_workflows

    wfs = list_workflows()
    if args.json:
        print_json([w.describe() for w in wfs])
        return 0
    for wf in wfs:
        d = wf.describe()
        print(f"{d['name']}: {d['description']}")
        ins = ", ".join(f"{i['name']} ({'/'.join(i['kinds'])})" for i in d["inputs"])
        print(f"  inputs: {ins}")
        props = d["params_schema"].get("properties", {})
        for key, prop in props.items():
            typ = prop.get("type") or "/".join(a.get("type", "?") for a in prop.get("anyOf", []))
            default = prop.get("default")
            desc = prop.get("description", "")
            print(f"    --param {key}=<{typ}>  (default {default!r})  {desc}")
        print()
    return 0
