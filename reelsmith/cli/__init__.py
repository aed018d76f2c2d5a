"""The command-line face: parses arguments and calls workflows; holds no processing logic.

Each command group lives in its own module exposing ``register(subparsers)``; the module
names are listed in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
from collections.abc import Iterator
from types import FrameType

from reelsmith.cli.params_args import ParamsParser
from reelsmith.errors import Cancelled, ConfigError, ReelsmithError

COMMAND_MODULES = [
    "reelsmith.cli.media_cmds",
    "reelsmith.cli.faces_cmd",
    "reelsmith.cli.portrait_cmd",
    "reelsmith.cli.restore_cmd",
    "reelsmith.cli.models_cmd",
    "reelsmith.cli.highlights_cmd",
    "reelsmith.cli.server_cmds",
    "reelsmith.cli.settings_cmd",
    "reelsmith.cli.photo_cmds",
]

EXIT_INPUT = 2
EXIT_PROCESSING = 3
EXIT_CANCELLED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, what a shell reports for a SIGTERM kill

# Commands that run a server or worker install their own signal handling.
_OWN_SIGNALS = {"serve", "worker"}


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into the Ctrl-C path: writers discard their temp files on the way out."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup
    raise Terminated()


def _discard_partial_outputs() -> None:
    """Remove temp files a writer had not cleaned up yet (e.g. one interrupted mid-save)."""
    from reelsmith.media.atomic import discard_pending

    discard_pending()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While active (main thread only), SIGTERM raises :class:`Terminated` in the main thread."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    from reelsmith import __version__

    parser = argparse.ArgumentParser(
        prog="reelsmith", description="AI video and photo engine: upscale, interpolate, and more."
    )
    parser.add_argument("--version", action="version", version=f"reelsmith {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ParamsParser)
    sub.required = True
    for mod_name in COMMAND_MODULES:
        importlib.import_module(mod_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    guard = (contextlib.nullcontext() if args.command in _OWN_SIGNALS
             else sigterm_as_interrupt())
    try:
        with guard:
            return int(args.func(args) or 0)
    except Terminated:
        _discard_partial_outputs()
        print("reelsmith: terminated; no partial output was kept", file=sys.stderr)
        return EXIT_TERMINATED
    except Cancelled as exc:
        print(f"reelsmith: {exc}", file=sys.stderr)
        return EXIT_CANCELLED
    except ReelsmithError as exc:
        print(f"reelsmith: error: {exc}", file=sys.stderr)
        fixable = exc.http_status < 500 or isinstance(exc, ConfigError)
        return EXIT_INPUT if fixable else EXIT_PROCESSING
    except KeyboardInterrupt:
        _discard_partial_outputs()
        print("reelsmith: interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - last resort: a sentence, not a traceback
        logging.getLogger("reelsmith").debug("unexpected error", exc_info=True)
        print(f"reelsmith: internal error: {type(exc).__name__}: {exc} "
              "(run with -v for details)", file=sys.stderr)
        return EXIT_PROCESSING


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
