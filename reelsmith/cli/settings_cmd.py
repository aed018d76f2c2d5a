"""``reelsmith settings``: the settings in force, or the documented table of all of them."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from reelsmith.config import Settings, env_name, get_settings, settings_table

_SECRET = ("api_key", "secret", "database_url", "broker_url")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("settings", help="show the settings in force (REELSMITH_* variables, config file)",
                       description="Show every setting with its value in force. Values come from "
                       "REELSMITH_* environment variables, then the TOML file named by "
                       "REELSMITH_CONFIG, then the defaults.")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object (secrets masked)")
    out.add_argument("--table", action="store_true",
                     help="the markdown table of every setting, its default and meaning")
    p.set_defaults(func=cmd_settings)


def _plain(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _masked(name: str, value: object) -> object:
    """Credentials are shown as set/unset only (a URL may carry a password)."""
    if any(s in name for s in _SECRET) and value:
        return "(set)"
    return _plain(value)


def cmd_settings(args: argparse.Namespace) -> int:
    if args.table:
        print(settings_table())
        return 0
    s: Settings = get_settings()
    values = {f.name: _masked(f.name, getattr(s, f.name)) for f in fields(Settings)}
    if args.json:
        print(json.dumps(values, indent=2))
        return 0
    group = ""
    for f in fields(Settings):
        if f.metadata["group"] != group:
            group = f.metadata["group"]
            print(f"[{group}]")
        value = values[f.name]
        shown = value if value not in (None, "", []) else f"({f.metadata['shown'] or 'none'})"
        print(f"  {env_name(f):<36} {shown!s:<28} {f.metadata['doc']}")
    return 0
