"""Resumable HTTP download into a ``.part`` file, with progress and a running sha256.

Shared by URL pulls (:mod:`download`) and wheel pulls (:mod:`pypi_fetch`). A ``.part``
file that already holds bytes is resumed with a ``Range`` request; a server that ignores
Range (200 instead of 206) makes it start over. pip's ``cert`` setting and credentials in
the URL are honoured through :func:`pip_index.open_url`.
"""

from __future__ import annotations

import hashlib
import sys
import urllib.error
from pathlib import Path

from reelsmith.errors import ModelError
from reelsmith.models.pip_index import open_url, redact
from reelsmith.models.store import sha256_file

CHUNK = 1 << 16


def download_resumable(url: str, part: Path, *, timeout: float, progress: bool, label: str,
                       cert: str | None = None) -> str:
    """Download ``url`` into ``part`` (resuming it); returns the sha256 of the whole file."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        resp = open_url(url, timeout=timeout, cert=cert, headers=headers)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # already complete
            return sha256_file(part)
        raise ModelError(f"Download of {label} failed: HTTP {exc.code} from {redact(url)}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ModelError(f"Download of {label} failed: {exc} ({redact(url)}).") from exc
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


