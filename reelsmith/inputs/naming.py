"""Safe local file names for downloaded and decoded inputs.

A name is built from what the caller told us (URL path, Content-Type, data-URI media
type), reduced to ``[A-Za-z0-9._-]``, and given a media extension. After probing, the
extension is corrected to what the container really is (:func:`extension_for_container`).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from urllib.parse import unquote

#: Extensions we keep as they are when a URL path or upload name carries them.
MEDIA_EXTENSIONS = {
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg",
    ".flv", ".wmv", ".3gp", ".3g2", ".ogv", ".y4m", ".gif", ".apng",
    ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff",
}

_MIME_EXTENSIONS = {
    "video/mp4": ".mp4",
    "video/x-m4v": ".m4v",
    "video/quicktime": ".mov",
    "video/x-matroska": ".mkv",
    "video/matroska": ".mkv",
    "video/webm": ".webm",
    "video/x-msvideo": ".avi",
    "video/avi": ".avi",
    "video/mp2t": ".ts",
    "video/mpeg": ".mpg",
    "video/x-flv": ".flv",
    "video/x-ms-wmv": ".wmv",
    "video/3gpp": ".3gp",
    "video/3gpp2": ".3g2",
    "video/ogg": ".ogv",
    "image/png": ".png",
    "image/apng": ".apng",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/x-ms-bmp": ".bmp",
    "image/tiff": ".tif",
}

# MediaInfo.container (FFmpeg demuxer or Pillow format name) -> extensions that agree with it; first is preferred.
_CONTAINER_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "mov,mp4,m4a,3gp,3g2,mj2": (".mp4", ".m4v", ".mov", ".3gp", ".3g2"),
    "matroska,webm": (".mkv", ".webm"),
    "avi": (".avi",),
    "mpegts": (".ts", ".mts", ".m2ts"),
    "mpeg": (".mpg", ".mpeg"),
    "flv": (".flv",),
    "asf": (".wmv",),
    "ogg": (".ogv",),
    "yuv4mpegpipe": (".y4m",),
    "gif": (".gif",),
    "apng": (".apng", ".png"),
    "png_pipe": (".png",),
    "jpeg_pipe": (".jpg", ".jpeg"),
    "webp_pipe": (".webp",),
    "bmp_pipe": (".bmp",),
    "tiff_pipe": (".tif", ".tiff"),
    "image2": (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"),
    # Still images probed with Pillow report its format name.
    "png": (".png", ".apng"),
    "jpeg": (".jpg", ".jpeg"),
    "mpo": (".jpg", ".jpeg"),
    "webp": (".webp",),
    "bmp": (".bmp",),
    "tiff": (".tif", ".tiff"),
}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def extension_for_mime(media_type: str | None) -> str | None:
    """``video/mp4; codecs=...`` -> ``.mp4``; unknown or missing -> None."""
    if not media_type:
        return None
    return _MIME_EXTENSIONS.get(media_type.split(";", 1)[0].strip().lower())


def safe_stem(raw: str | None, default: str = "input") -> str:
    """A file-name stem made only of ``[A-Za-z0-9._-]``, no leading dot, at most 60 chars."""
    if not raw:
        return default
    stem = _UNSAFE.sub("_", unquote(raw)).strip("._-")
    stem = re.sub(r"_+", "_", stem)[:60].strip("._-")
    return stem or default


def name_from_url_path(url_path: str) -> tuple[str, str | None]:
    """(safe stem, media extension or None) from the last segment of a URL path."""
    base = unquote(url_path.rsplit("/", 1)[-1]) if url_path else ""
    base = os.path.basename(base.replace("\\", "/"))
    stem, ext = os.path.splitext(base)
    ext = ext.lower()
    return safe_stem(stem), (ext if ext in MEDIA_EXTENSIONS else None)


def extension_for_container(container: str, current: str) -> str | None:
    """The extension a file of FFmpeg format ``container`` should have, or None if
    ``current`` already agrees (or the container is one we have no opinion about)."""
    wanted = _CONTAINER_EXTENSIONS.get(container)
    if not wanted or current.lower() in wanted:
        return None
    return wanted[0]


def reserve_path(dest_dir: Path, stem: str, ext: str) -> Path:
    """Create (exclusively) and return a new empty file ``dest_dir/stem[-N]ext``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        candidate = dest_dir / (f"{stem}{ext}" if n == 0 else f"{stem}-{n}{ext}")
        try:
            fd = os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    candidate = dest_dir / f"{stem}-{uuid.uuid4().hex[:12]}{ext}"
    os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    return candidate


def partial_path(dest_dir: Path) -> Path:
    """A hidden temporary name in ``dest_dir`` for a file being written."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    return dest_dir / f".incoming-{uuid.uuid4().hex[:12]}.part"


def finalize(partial: Path, dest_dir: Path, stem: str, ext: str) -> Path:
    """Move a completely written ``partial`` to a fresh, safe name; return that name."""
    final = reserve_path(dest_dir, stem, ext)
    os.replace(partial, final)
    return final


def fix_extension(path: Path, container: str) -> Path:
    """Rename ``path`` so its extension matches the probed container; returns the new path."""
    ext = extension_for_container(container, path.suffix)
    if ext is None:
        return path
    new = reserve_path(path.parent, path.stem, ext)
    os.replace(path, new)
    return new
