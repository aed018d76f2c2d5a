"""Terminal presentation shared by CLI commands: progress bar, summaries, JSON, and the
run-a-workflow-and-report step every workflow command ends with."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from reelsmith.engine.context import ProgressEvent


class ProgressPrinter:
    """A tqdm bar on a terminal; nothing when quiet, JSON-only, or not a TTY."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = None
        self._stage = None

    def __call__(self, ev: ProgressEvent) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=1000, unit="‰", file=sys.stderr, leave=False,
                             bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")
        if ev.stage != self._stage:
            self._stage = ev.stage
            self._bar.set_description(ev.stage or "working")
        self._bar.n = int(ev.progress * 1000)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def add_output_options(p: argparse.ArgumentParser, output_help: str = "output file (default: "
                       "<input>_<workflow>.<ext> beside the input)") -> None:
    """``-o/--output``, ``--json`` and ``--quiet``: what every workflow command takes."""
    p.add_argument("-o", "--output", help=output_help)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _fmt_media(m: dict[str, Any] | None) -> str:
    if not m:
        return "?"
    if m.get("kind") == "image" or m.get("fps") is None:
        return f"{m.get('width')}x{m.get('height')}"
    return f"{m.get('width')}x{m.get('height')} @ {m.get('fps'):g} fps, {m.get('duration', 0):.2f} s, " \
           f"{m.get('frames')} frames"


def print_summary(result: dict[str, Any]) -> None:
    meta = result.get("metadata", {})
    outs = result.get("outputs", {})
    print(f"{meta.get('workflow', 'done')}: wrote {', '.join(str(v) for v in outs.values())}")
    if "input" in meta:
        print(f"  input:   {_fmt_media(meta.get('input'))}")
        print(f"  output:  {_fmt_media(meta.get('output'))}")
    backend = meta.get("backend")
    model = meta.get("model")
    if backend or model:
        print(f"  backend: {backend}" + (f" (model: {model})" if model else ""))
    if meta.get("audio"):
        print(f"  audio:   {meta['audio']}")
    if "seconds" in meta:
        print(f"  time:    {meta['seconds']:.2f} s")


def run_and_report(args: argparse.Namespace, workflow: str, sources: Sequence[str],
                   params: dict[str, Any],
                   summary: Callable[[dict[str, Any]], None] = print_summary, *,
                   inputs: dict[str, Any] | None = None) -> int:
    """Run ``workflow`` with a progress bar, then print JSON (``--json``), ``summary``, or
    nothing (``--quiet``). Uses ``args.output``, ``args.json`` and ``args.quiet``. Sources go
    positionally (``sources``) or by input name (``inputs``)."""
    from reelsmith import api

    bar = ProgressPrinter(enabled=not (args.quiet or args.json))
    try:
        result = api.run(workflow, *sources, inputs=inputs, output=args.output, progress=bar,
                         params=params)
    finally:
        bar.close()
    data = result.to_dict()
    if args.json:
        print_json(data)
    elif not args.quiet:
        summary(data)
    return 0
