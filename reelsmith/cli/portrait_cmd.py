"""``reelsmith portrait REFERENCE FACE -o OUT [--count 4] [--seed 42] [--prompt "..."]``.

Flags come from the workflow's ``Params`` (:mod:`reelsmith.cli.params_args`); ``--param k=v``
takes any parameter as well. The summary lists every result with its seed and identity
similarity to the face image, best first.
"""

from __future__ import annotations

import argparse
from typing import Any

from reelsmith.cli.media_cmds import parse_param
from reelsmith.cli.output import add_output_options, print_summary, run_and_report
from reelsmith.cli.params_args import attach_params, params_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("portrait", help="put a person's face into a reference portrait")
    p.add_argument("reference", help="the portrait whose background, pose and outfit are kept")
    p.add_argument("face", help="a photo of the person whose face goes in")
    add_output_options(p, "output image; with --count N: OUT-1, OUT-2, ... (default: "
                          "<reference>_portrait.<ext> beside the reference)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="any portrait parameter (repeatable); values are parsed as JSON when possible")
    attach_params(p, "reelsmith.workflows.portrait_params:PortraitParams")
    p.set_defaults(func=_cmd_portrait)


def summary(data: dict[str, Any]) -> None:
    print_summary(data)
    meta = data.get("metadata", {})
    why = meta.get("backend_reason")
    if why:
        print(f"  note:    {why}")
    if meta.get("prompt"):
        print(f"  prompt:  ({meta.get('prompt_source')}) {meta['prompt']}")
    for r in meta.get("results", []):
        ident = r.get("identity")
        score = (f"identity {ident['to_face']:.3f} to the face, {ident['to_reference']:.3f} to "
                 "the reference's face" if ident else "identity not measured")
        seed = f"seed {r['seed']}" if r.get("seed") is not None else f"style {r.get('style')}"
        print(f"  #{r['rank']}: {r['path']}  ({seed}; {score})")


def _cmd_portrait(args: argparse.Namespace) -> int:
    params = params_from_args(args, args.param_specs)
    params.update(dict(parse_param(x) for x in args.param))
    return run_and_report(args, "portrait", [args.reference, args.face], params, summary=summary)
