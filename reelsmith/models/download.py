"""``models pull``: HTTP download with resume, progress, sha256 check and atomic move.

The partial download lives in ``<models>/.partial/<file>.part``; a later pull resumes it
with a ``Range`` request (a server that ignores Range makes it start over). The file only
appears under its real name once its checksum matched.
URL override: ``url=`` (CLI ``--url``), else ``REELSMITH_MODELS_MIRROR`` + "/" + file name,
else the catalog URL.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from reelsmith.config import get_settings
from reelsmith.errors import ModelError
from reelsmith.models.catalog import CatalogEntry, get_entry
from reelsmith.models.store import models_dir, record

CHUNK = 1 << 16


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
    digest = _download(link, part, timeout=timeout,
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


def _download(url: str, part: Path, *, timeout: float, progress: bool, label: str) -> str:
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "reelsmith-models"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - http(s) checked
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # already complete
            return _hash_file(part)
        raise ModelError(f"Download of {label} failed: HTTP {exc.code} from {url}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ModelError(f"Download of {label} failed: {exc} ({url}).") from exc
    with resp:
        resumed = have > 0 and resp.status == 206
        if not resumed:
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        h = hashlib.sha256()
        if resumed:
            with open(part, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=label,
                       file=sys.stderr)
        try:
            with open(part, "ab" if resumed else "wb") as out:
                while True:
                    try:
                        block = resp.read(CHUNK)
                    except OSError as exc:
                        raise ModelError(f"Download of {label} was interrupted ({exc}); run "
                                         "the pull again to resume.") from exc
                    if not block:
                        break
                    out.write(block)
                    h.update(block)
                    if bar:
                        bar.update(len(block))
        finally:
            if bar:
                bar.close()
    size = part.stat().st_size
    if total is not None and size < total:
        raise ModelError(f"Download of {label} stopped at {size} of {total} bytes; run the "
                         "pull again to resume.")
    return h.hexdigest()


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()
