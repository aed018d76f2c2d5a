"""The catalog of known public models (``catalog.toml`` shipped in the package).

Extra entries (a private mirror, tests) come from a TOML file named by
``REELSMITH_MODELS_CATALOG``; they override shipped entries with the same name.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from importlib import resources

from reelsmith.config import get_settings
from reelsmith.errors import ModelError
from reelsmith.models.descriptor import PURPOSES


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    purpose: str
    format: str
    scale: int
    file: str
    size: int = 0
    sha256: str = ""
    url: str = ""
    source: str = ""
    license: str = ""
    architecture: str = ""
    priority: int = 0
    size_multiple: int = 0
    notes: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in (
            "name", "purpose", "format", "scale", "file", "size", "sha256", "url", "source",
            "license", "architecture", "priority", "size_multiple", "notes")}


_FIELDS = set(CatalogEntry.__dataclass_fields__) - {"extra"}


def _parse(data: dict, origin: str) -> list[CatalogEntry]:
    out = []
    for raw in data.get("model", []):
        missing = [k for k in ("name", "purpose", "format", "scale", "file") if k not in raw]
        if missing:
            raise ModelError(f"Catalog {origin}: entry {raw.get('name', '?')!r} lacks "
                             f"{', '.join(missing)}.")
        if raw["purpose"] not in PURPOSES:
            raise ModelError(f"Catalog {origin}: entry {raw['name']!r} has unknown purpose "
                             f"{raw['purpose']!r}.")
        known = {k: v for k, v in raw.items() if k in _FIELDS}
        extra = {k: v for k, v in raw.items() if k not in _FIELDS}
        out.append(CatalogEntry(**known, extra=extra))
    return out


def load_catalog() -> dict[str, CatalogEntry]:
    """All entries by name: the shipped catalog, then the ``models_catalog`` setting's."""
    text = resources.files("reelsmith.models").joinpath("catalog.toml").read_text("utf-8")
    entries = {e.name: e for e in _parse(tomllib.loads(text), "catalog.toml")}
    path = get_settings().models_catalog
    if path is not None:
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ModelError(f"Cannot read the model catalog {path}: {exc}") from exc
        for e in _parse(data, str(path)):
            entries[e.name] = e
    return entries


def find_entry(name: str) -> CatalogEntry | None:
    """Exact, then case-insensitive match; None when unknown."""
    cat = load_catalog()
    if name in cat:
        return cat[name]
    low = {k.lower(): v for k, v in cat.items()}
    return low.get(name.lower())


def get_entry(name: str) -> CatalogEntry:
    entry = find_entry(name)
    if entry is None:
        raise ModelError(unknown_name_message(name))
    return entry


def unknown_name_message(name: str) -> str:
    names = list(load_catalog())
    close = difflib.get_close_matches(name, names, n=4, cutoff=0.4)
    if not close:
        close = [n for n in names if name.lower() in n.lower() or n.lower() in name.lower()][:4]
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return (f"Unknown model {name!r}: it is neither a catalog name nor an existing file.{hint} "
            "Run `reelsmith models list` to see the catalog.")


def entry_for_file(file_name: str) -> CatalogEntry | None:
    for e in load_catalog().values():
        if e.file == file_name:
            return e
    return None
