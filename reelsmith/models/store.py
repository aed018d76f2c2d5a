"""The models directory: discovery, the hash manifest and verify.

Directory: ``REELSMITH_MODELS`` if set, else ``Settings.resolved_models_dir``. Any model file
dropped there is discovered. ``manifest.json`` records what pull/import wrote (name, sha256,
size, purpose, scale, source) so that ``verify`` can re-check files later.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reelsmith.config import get_settings
from reelsmith.errors import ModelError
from reelsmith.models.catalog import CatalogEntry, entry_for_file
from reelsmith.models.formats import is_model_file, is_ncnn_weights

MANIFEST = "manifest.json"


def models_dir() -> Path:
    return get_settings().resolved_models_dir


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_manifest(root: Path | None = None) -> dict[str, dict]:
    path = (root or models_dir()) / MANIFEST
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"The models manifest {path} is unreadable ({exc}); delete it and "
                         "re-import your models.") from exc
    return data if isinstance(data, dict) else {}


def write_manifest(data: dict[str, dict], root: Path | None = None) -> None:
    root = root or models_dir()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", dir=root)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, root / MANIFEST)


def record(file_name: str, **info) -> None:
    data = read_manifest()
    entry = data.get(file_name, {})
    entry.update({k: v for k, v in info.items() if v is not None})
    entry["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data[file_name] = entry
    write_manifest(data)


@dataclass
class InstalledModel:
    """A model file present in the models directory."""

    path: Path
    entry: CatalogEntry | None  # the catalog entry it matches by file name
    recorded: dict  # its manifest record ({} when dropped in by hand)

    @property
    def name(self) -> str:
        if self.entry:
            return self.entry.name
        return self.recorded.get("name") or self.path.stem

    @property
    def purpose(self) -> str | None:
        return self.recorded.get("purpose") or (self.entry.purpose if self.entry else None)

    @property
    def scale(self) -> int | None:
        s = self.recorded.get("scale") or (self.entry.scale if self.entry else None)
        return int(s) if s else None

    @property
    def priority(self) -> int:
        return self.entry.priority if self.entry else int(self.recorded.get("priority", 0))


def installed_models() -> list[InstalledModel]:
    root = models_dir()
    if not root.is_dir():
        return []
    manifest = read_manifest(root)
    out = []
    for p in sorted(root.iterdir()):
        if (p.is_file() and is_model_file(p.name) and not p.name.startswith(".")
                and not is_ncnn_weights(p)):  # an ncnn pair is listed once, by its .param
            out.append(InstalledModel(p, entry_for_file(p.name), manifest.get(p.name, {})))
    return out


def find_installed(name: str) -> InstalledModel | None:
    """An installed model by catalog name, recorded name, file name or stem."""
    low = name.lower()
    for m in installed_models():
        if low in (m.name.lower(), m.path.name.lower(), m.path.stem.lower()):
            return m
    return None


def expected_sha256(m: InstalledModel) -> str:
    return (m.entry.sha256 if m.entry and m.entry.sha256 else "") or m.recorded.get("sha256", "")


def verify(names: list[str] | None = None) -> list[dict]:
    """Check each installed model against its catalog or recorded checksum.

    Returns one dict per model: name, file, status ("ok", "mismatch", "unrecorded"),
    expected, actual.
    """
    results = []
    models = installed_models()
    if names:
        wanted = {n.lower() for n in names}
        models = [m for m in models if wanted & {m.name.lower(), m.path.name.lower()}]
        found = {m.name.lower() for m in models} | {m.path.name.lower() for m in models}
        missing = sorted(wanted - found)
        if missing:
            raise ModelError(f"Not installed: {', '.join(missing)}; see `reelsmith models list`.")
    for m in models:
        actual = sha256_file(m.path)
        expected = expected_sha256(m)
        status = "unrecorded" if not expected else ("ok" if actual == expected else "mismatch")
        results.append({"name": m.name, "file": m.path.name, "status": status,
                        "expected": expected or None, "actual": actual})
    return results
