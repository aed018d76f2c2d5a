"""Turn a job's source (local path, URL, base64/data URI, uploaded file) into a local file,
safely.

``resolve_source`` is the one call faces use::

    src = resolve_source(job_input, work_dir=job_dir)        # dict with video_path/_url/_base64
    src = resolve_source("https://example.com/a.mp4", work_dir=job_dir)
    src = resolve_source(Upload(saved_path), work_dir=job_dir)  # a file the server received

It enforces, from :class:`reelsmith.config.Settings`: ``max_input_bytes`` (before download
or decode), ``max_pixels`` (from the image header before FFmpeg decodes anything, then from
the probe), ``max_duration_s`` and ``max_frames`` (from the probe, before a full decode),
``allowed_roots`` for local paths, and the SSRF guard for URLs (see
:mod:`reelsmith.inputs.netguard`). Every refusal is an :class:`~reelsmith.errors.InputError`
(``LimitExceededError`` 413, ``UnsupportedMediaError`` 415) with a sentence a user
understands. Files it created are removed again when it refuses them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelsmith.config import Settings, get_settings
from reelsmith.errors import InputError, UnsupportedMediaError
from reelsmith.inputs.b64 import decode_base64, parse_data_uri
from reelsmith.inputs.download import MAX_REDIRECTS, download_url, parse_http_url
from reelsmith.inputs.limits import (
    check_byte_size,
    check_header,
    check_limits,
    format_bytes,
    sniff_dimensions,
)
from reelsmith.inputs.naming import fix_extension, safe_stem
from reelsmith.inputs.netguard import check_address, classify, resolve_checked
from reelsmith.inputs.paths import resolve_path
from reelsmith.media.probe import MediaInfo, probe

__all__ = [
    "MAX_REDIRECTS",
    "ResolvedInput",
    "SOURCE_KINDS",
    "Upload",
    "check_address",
    "check_byte_size",
    "check_header",
    "check_limits",
    "classify",
    "classify_source",
    "decode_base64",
    "download_url",
    "format_bytes",
    "parse_data_uri",
    "parse_http_url",
    "pick_source",
    "resolve_checked",
    "resolve_path",
    "require_kind",
    "resolve_source",
    "sniff_dimensions",
]

#: The source fields a request may carry, as suffixes of a prefix (``video_path`` ...).
SOURCE_KINDS = ("path", "url", "base64")
_URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Upload:
    """A file the server itself received (multipart upload) and saved.

    Trusted: not subject to ``allowed_roots`` (the caller chose where it was saved). Only
    server code can construct one; a JSON request can never produce it.
    """

    path: Path
    filename: str | None = None  # the name the client gave, for messages only


@dataclass
class ResolvedInput:
    """A local, probed, within-limits input."""

    path: Path
    origin: str  # "path" | "url" | "base64" | "upload"
    info: MediaInfo | None  # None for a JSON input (kind "json": hints, not media)
    cleanup: bool  # True when the file is a copy we created (download/decode)

    def discard(self) -> None:
        """Remove the file if we created it."""
        if self.cleanup:
            self.path.unlink(missing_ok=True)


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str | bytes):
        return bool(value.strip())
    return True


def pick_source(fields: Mapping[str, Any], prefix: str = "video") -> tuple[str, Any]:
    """Return ``(kind, value)`` for the one source field among ``{prefix}_path``,
    ``{prefix}_url`` and ``{prefix}_base64``; ``kind`` is "path", "url" or "base64".

    ``None`` and blank strings count as absent. None given, or more than one, is an
    :class:`InputError` that names the fields.
    """
    if not isinstance(fields, Mapping):
        raise InputError("The input must be an object with one source field.")
    names = [f"{prefix}_{k}" for k in SOURCE_KINDS]
    given = [(k, fields[n]) for k, n in zip(SOURCE_KINDS, names, strict=True)
             if _present(fields.get(n))]
    if len(given) == 1:
        kind, value = given[0]
        if kind == "path" and not isinstance(value, str | os.PathLike):
            raise InputError(f"The field {prefix}_path must be a string.")
        if kind == "url" and not isinstance(value, str):
            raise InputError(f"The field {prefix}_url must be a string.")
        if kind == "base64" and not isinstance(value, str | bytes):
            raise InputError(f"The field {prefix}_base64 must be a string.")
        return kind, value
    listing = f"{names[0]}, {names[1]} or {names[2]}"
    if not given:
        blank = [n for n in names if n in fields and fields[n] is not None]
        if blank:
            raise InputError(f"The field {blank[0]} is empty; give a value in it.")
        raise InputError(f"No input was given: send exactly one of {listing}.")
    both = " and ".join(f"{prefix}_{k}" for k, _ in given)
    raise InputError(f"Several inputs were given ({both}): send exactly one of {listing}.")


def classify_source(text: str) -> tuple[str, str]:
    """A bare string is a URL (any ``scheme://``), a data URI (``base64``), or a ``path``."""
    stripped = text.lstrip()
    if stripped[:5].lower() == "data:":
        return "base64", text
    if _URL_LIKE.match(stripped) or stripped[:6].lower() in ("http:/", "https:"):
        return "url", text  # download_url refuses the non-http schemes with a clear message
    return "path", text


def _what(kinds: Sequence[str]) -> str:
    names = {"video": "a video", "image": "an image", "json": "a JSON file"}
    return " or ".join(names.get(k, k) for k in kinds)


def require_kind(kinds: Sequence[str], found: str, what: str = "the file") -> None:
    """The one check (and sentence) for a source of the wrong media kind: raises
    :class:`UnsupportedMediaError` when ``found`` ("video", "image") is not in ``kinds``.
    ``what`` names the source in the sentence ("the file", "the upload")."""
    if found not in kinds:
        raise UnsupportedMediaError(f"This input must be {_what(kinds)}, but {what} is {_what([found])}.")


def _is_json(path: Path) -> bool:
    """True for a file holding one JSON object (a ``json`` input such as colour hints);
    InputError for a .json file that does not parse."""
    import json

    with open(path, "rb") as f:
        head = f.read(64).lstrip()
    if path.suffix.lower() != ".json" and head[:1] != b"{":
        return False
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        if path.suffix.lower() == ".json":
            raise InputError(f"{path.name} is not valid JSON: {exc}.") from None
        return False
    return isinstance(data, dict)


def resolve_source(
    spec: Mapping[str, Any] | str | os.PathLike | Upload,
    *,
    work_dir: str | os.PathLike,
    kinds: Sequence[str] = ("video", "image"),
    settings: Settings | None = None,
    prefix: str = "video",
) -> ResolvedInput:
    """Resolve ``spec`` to a local media file and check it against the limits.

    ``spec``: a request mapping (exactly one of ``{prefix}_path/_url/_base64``), a string
    (``http(s)://`` URL, ``data:`` URI or a path), a ``Path`` or an :class:`Upload`.
    Downloads and decoded data are written into ``work_dir`` (created if needed), the
    job's own directory. ``kinds`` restricts what the file may be ("video", "image", and
    "json": a JSON object, returned unprobed with ``info`` None).
    """
    s = settings or get_settings()
    work = Path(work_dir)
    if isinstance(spec, Upload):
        origin, value = "upload", spec.path
    elif isinstance(spec, Mapping):
        origin, value = pick_source(spec, prefix)
    elif isinstance(spec, str):
        if not spec.strip():
            raise InputError("The input is empty.")
        origin, value = classify_source(spec)
    elif isinstance(spec, os.PathLike):
        origin, value = "path", spec
    else:
        raise InputError(f"The input must be a path, URL or base64 data, not {type(spec).__name__}.")

    created = origin in ("url", "base64")
    if origin == "path":
        path = resolve_path(value, s)
    elif origin == "upload":
        path = Path(value)
        if not path.is_file():
            raise InputError("The uploaded file is missing on the server.")
    elif origin == "url":
        path = download_url(value, work, s)
    else:
        path = decode_base64(value, work, s, stem=safe_stem(f"{prefix}_input"))

    try:
        check_byte_size(path.stat().st_size, s)
        if "json" in kinds and _is_json(path):
            if created and path.suffix.lower() != ".json":
                path = path.rename(path.with_suffix(".json"))
            return ResolvedInput(path=path, origin=origin, info=None, cleanup=created)
        check_header(path, s)
        info = probe(path)
        if created:
            new = fix_extension(path, info.container)
            if new != path:
                path = new
                info = probe(path)
        check_limits(info, s)
        require_kind(kinds, info.kind)
    except BaseException:
        if created:
            path.unlink(missing_ok=True)
        raise
    return ResolvedInput(path=path, origin=origin, info=info, cleanup=created)
