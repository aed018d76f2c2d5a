"""Turning what a client sent (files, upload ids, URLs, base64, server paths) into stored,
validated job inputs: the one input policy of every route (/api/v1 JSON and multipart,
/v2 top-level ``video_*`` fields and ``inputs``).

- Server paths are allowed only when ``allowed_roots`` is set, or on a loopback server
  without authentication (a single local user). Refused paths get the same sentence
  whether the file exists or not, and no refusal names the roots.
- Nothing inside the data dir can be named by path (other owners' uploads, the database);
  an upload is referred to by its id.
- Base64 becomes an upload file owned by the job; it never enters the database.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

from reelsmith.config import get_settings
from reelsmith.errors import InputError, UnsupportedMediaError
from reelsmith.jobs import artifacts
from reelsmith.jobs import models as m
from reelsmith.jobs.store import JobStore, new_id
from reelsmith.server.errors import ApiError
from reelsmith.server.sniff import describe_file

_HEX = re.compile(r"^[0-9a-f]{32}$")


def _probe_into_upload(store: JobStore, owner: str, src: Path, filename: str,
                       upload_id: str, kinds: tuple[str, ...] = ("video", "image"),
                       job_id: str | None = None) -> m.Upload:
    """Probe ``src`` (inside the upload's dir), give it a safe final name, record it."""
    from reelsmith.inputs import Upload, resolve_source
    from reelsmith.inputs.naming import fix_extension, safe_stem

    d = artifacts.upload_dir(upload_id)
    try:
        info = resolve_source(Upload(src, filename), work_dir=d, kinds=kinds).info
    except UnsupportedMediaError as exc:
        detected = describe_file(src)
        shutil.rmtree(d, ignore_errors=True)
        raise ApiError(415, exc.code, f"{exc.message} The file looks like {detected}.",
                       detected=detected) from None
    except InputError:
        shutil.rmtree(d, ignore_errors=True)
        raise
    stem = safe_stem(Path(filename).stem, default="upload")
    final = d / f"{stem}{Path(filename).suffix.lower() or '.bin'}"
    src.rename(final)
    if info is None:  # a JSON input (colour hints), not media
        media: dict = {}
        kind = "json"
    else:
        final = fix_extension(final, info.container)
        media = _jsonable(info.summary())
        media.pop("path", None)  # a server path is nobody's business
        kind = info.kind
    row = m.Upload(id=upload_id, owner=owner, filename=filename[:255], path=str(final),
                   size_bytes=final.stat().st_size, kind=kind, media=media,
                   created_at=time.time(), job_id=job_id)
    return store.add_upload(row)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(d, default=str))


def store_file_upload(store: JobStore, owner: str, saved_path: Path, filename: str,
                      job_id: str | None = None) -> m.Upload:
    """A file the multipart parser saved under uploads/<new id>/ becomes an Upload
    (``job_id``: it came with a job's own request and is deleted with that job)."""
    upload_id = saved_path.parent.name
    return _probe_into_upload(store, owner, saved_path, filename, upload_id, job_id=job_id)


def new_upload_dir() -> tuple[str, Path]:
    upload_id = new_id()
    d = artifacts.upload_dir(upload_id)
    d.mkdir(parents=True, exist_ok=True)
    return upload_id, d


def store_base64(store: JobStore, owner: str, value: str, kinds: tuple[str, ...],
                 field: str, job_id: str | None = None) -> m.Upload:
    from reelsmith.inputs import decode_base64

    upload_id, d = new_upload_dir()
    try:
        path = decode_base64(value, d, get_settings(), stem="input")
    except InputError as exc:
        shutil.rmtree(d, ignore_errors=True)
        if exc.http_status in (413, 415):
            raise
        raise ApiError(422, "validation_error", f"{field}: {exc.message}",
                       fields=[{"field": field, "message": exc.message}]) from None
    return _probe_into_upload(store, owner, path, path.name, upload_id, kinds, job_id=job_id)


def paths_allowed(local_only: bool, auth_on: bool) -> bool:
    """Server paths: under configured roots, or on a loopback server with no keys."""
    return bool(get_settings().allowed_roots) or (local_only and not auth_on)


def _path_refused(field: str) -> ApiError:
    return ApiError(400, "paths_disabled",
                    f"{field}: server paths are not accepted here; upload the file, send a URL or "
                    "base64, or ask the operator to set REELSMITH_ALLOWED_ROOTS.")


def _check_path(field: str, raw: str, paths_ok: bool) -> None:
    """Refuse a path by policy before the file system is asked anything about it."""
    if not paths_ok:
        raise _path_refused(field)
    from reelsmith.inputs.paths import is_within

    try:
        real = Path(raw).expanduser().resolve(strict=False)
    except (OSError, RuntimeError, ValueError):
        return  # resolve_source words the problem
    if is_within(real, artifacts.data_dir().resolve()):
        raise ApiError(400, "paths_disabled",
                       f"{field}: files in the server's data directory cannot be named by path; "
                       "refer to an upload by its id.")


def normalize_input(store: JobStore, owner: str, field: str, value: Any,
                    kinds: tuple[str, ...], paths_ok: bool, job_id: str | None = None) -> dict[str, Any]:
    """One input reference -> {"type": "upload"|"url"|"path", ...} (validated now).

    ``job_id``: the job the reference is for; base64 data becomes an upload owned by it."""
    if isinstance(value, str):
        from reelsmith.inputs import classify_source

        v = value.strip()
        value = {"upload_id": v} if _HEX.match(v) else dict([classify_source(v)])
    if not isinstance(value, dict) or len([k for k in value if value[k] is not None]) != 1:
        raise ApiError(422, "validation_error",
                       f"{field}: give exactly one of upload_id, url, base64 or path.",
                       fields=[{"field": field, "message":
                                "give exactly one of upload_id, url, base64 or path"}])
    (key, v), = [(k, val) for k, val in value.items() if val is not None]
    if not isinstance(v, str):
        raise ApiError(422, "validation_error", f"{field}.{key}: must be a string.",
                       fields=[{"field": f"{field}.{key}", "message": "must be a string"}])
    if key == "upload_id":
        up = store.get_upload(v, owner=owner) if _HEX.match(v) else None
        if up is None:
            raise ApiError(404, "not_found", f"{field}: there is no upload with id {v!r}.")
        from reelsmith.inputs import require_kind

        try:
            require_kind(kinds, up.kind, "the upload")
        except UnsupportedMediaError as exc:
            raise ApiError(415, exc.code, f"{field}: {exc.message}", detected=up.kind) from None
        return {"type": "upload", "upload_id": v}
    if key == "url":
        from reelsmith.inputs import parse_http_url

        try:
            parse_http_url(v)
        except InputError as exc:
            raise ApiError(422, "validation_error", f"{field}.url: {exc.message}",
                           fields=[{"field": f"{field}.url", "message": exc.message}]) from None
        return {"type": "url", "url": v}
    if key == "base64":
        up = store_base64(store, owner, v, kinds, f"{field}.base64", job_id=job_id)
        return {"type": "upload", "upload_id": up.id}
    if key == "path":
        _check_path(field, v, paths_ok)
        from reelsmith.inputs import resolve_source

        try:
            resolved = resolve_source(Path(v), work_dir=artifacts.data_dir() / "work",
                                      kinds=kinds)
        except UnsupportedMediaError as exc:
            raise ApiError(415, exc.code, exc.message, detected=describe_file(Path(v))) from None
        return {"type": "path", "path": str(resolved.path)}
    raise ApiError(422, "validation_error",
                   f"{field}: unknown source {key!r}; use upload_id, url, base64 or path.",
                   fields=[{"field": field, "message": f"unknown source {key!r}"}])
