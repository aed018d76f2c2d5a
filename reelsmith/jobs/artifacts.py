"""Where job files live under the data dir, and how they get there atomically.

Layout (ids are random hex, never taken from user text)::

    data_dir/uploads/<upload_id>/<safe name>
    data_dir/work/<job_id>-<attempt>/...      scratch of one attempt, removed after
    data_dir/artifacts/<job_id>/<role><ext>   finished outputs (moved in with os.replace)
"""

from __future__ import annotations

import mimetypes
import os
import re
import shutil
from pathlib import Path

from reelsmith.config import get_settings
from reelsmith.media.atomic import commit

_ID = re.compile(r"^[0-9a-f]{32}$")
_ROLE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")

_TYPES = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime",
    ".mkv": "video/x-matroska", ".webm": "video/webm", ".avi": "video/x-msvideo",
    ".gif": "image/gif", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".webp": "image/webp", ".tif": "image/tiff", ".tiff": "image/tiff", ".bmp": "image/bmp",
    ".srt": "application/x-subrip", ".vtt": "text/vtt", ".json": "application/json",
    ".wav": "audio/wav", ".m4a": "audio/mp4", ".txt": "text/plain; charset=utf-8",
}


def valid_id(value: str) -> bool:
    return bool(_ID.match(value or ""))


def valid_role(value: str) -> bool:
    return bool(_ROLE.match(value or ""))


def content_type(path: str | os.PathLike) -> str:
    ext = Path(path).suffix.lower()
    return _TYPES.get(ext) or mimetypes.guess_type(str(path))[0] or "application/octet-stream"


def data_dir() -> Path:
    return Path(get_settings().data_dir)


def uploads_root() -> Path:
    return data_dir() / "uploads"


def upload_dir(upload_id: str) -> Path:
    assert valid_id(upload_id)
    return uploads_root() / upload_id


def artifacts_dir(job_id: str) -> Path:
    assert valid_id(job_id)
    return data_dir() / "artifacts" / job_id


def work_dir(job_id: str, attempt: int) -> Path:
    assert valid_id(job_id)
    return data_dir() / "work" / f"{job_id}-{attempt}"


def publish_outputs(job_id: str, outputs: dict[str, Path]) -> dict[str, Path]:
    """Move finished outputs into the job's artifact dir (fsync + rename each)."""
    dest_dir = artifacts_dir(job_id)
    dest_dir.mkdir(parents=True, exist_ok=True)
    published: dict[str, Path] = {}
    for role, src in outputs.items():
        src = Path(src)
        safe_role = role if valid_role(role) else re.sub(r"[^A-Za-z0-9_-]", "_", role)[:40]
        dest = dest_dir / f"{safe_role}{src.suffix.lower()}"
        try:
            commit(src, dest)
        except OSError:  # another filesystem: copy to a temp sibling, then rename
            tmp = dest.with_name(f".{dest.name}.partial")
            shutil.copyfile(src, tmp)
            commit(tmp, dest)
        published[safe_role] = dest
    return published


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def remove_job_files(job_id: str) -> None:
    remove_tree(artifacts_dir(job_id))
    root = data_dir() / "work"
    if root.is_dir():
        for p in root.glob(f"{job_id}-*"):
            remove_tree(p)

