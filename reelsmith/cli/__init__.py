"""The command-line face: parses arguments and calls workflows; holds no processing logic.

Each command group lives in its own module exposing ``register(subparsers)``; the module
names are listed in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from reelsmith.errors import Cancelled, ReelsmithError

COMMAND_MODULES = [
    "reelsmith.cli.media_cmds",
    "reelsmith.cli.models_cmd",
    "reelsmith.cli.highlights_cmd",
    "reelsmith.cli.server_cmds",
]

EXIT_INPUT = 2
EXIT_PROCESSING = 3
EXIT_CANCELLED = 130


def build_parser() -> argparse.ArgumentParser:
    from reelsmith import __version__

    parser = argparse.ArgumentParser(
        prog="reelsmith", description="AI video and photo engine: upscale, interpolate, and more."
    )
    parser.add_argument("--version", action="version", version=f"reelsmith {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod_name in COMMAND_MODULES:
        importlib.import_module(mod_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except Cancelled as exc:
        print(f"reelsmith: {exc}", file=sys.stderr)
        return EXIT_CANCELLED
    except ReelsmithError as exc:
        print(f"reelsmith: error: {exc}", file=sys.stderr)
        return EXIT_INPUT if exc.http_status < 500 else EXIT_PROCESSING
    except KeyboardInterrupt:
        print("reelsmith: interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - last resort: a sentence, not a traceback
        logging.getLogger("reelsmith").debug("unexpected error", exc_info=True)
        print(f"reelsmith: internal error: {type(exc).__name__}: {exc} "
              "(run with -v for details)", file=sys.stderr)
        return EXIT_PROCESSING


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
