"""Turning what a client sent (files, upload ids, URLs, base64, server paths) into stored,
validated job inputs. Shared by /api/v1 and the multipart one-call job creation."""

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
                       upload_id: str, kinds: tuple[str, ...] = ("video", "image")) -> m.Upload:
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
    final = fix_extension(final, info.container)
    row = m.Upload(id=upload_id, owner=owner, filename=filename[:255], path=str(final),
                   size_bytes=final.stat().st_size, kind=info.kind, media=_jsonable(info.summary()),
                   created_at=time.time())
    return store.add_upload(row)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(d, default=str))


def store_file_upload(store: JobStore, owner: str, saved_path: Path, filename: str) -> m.Upload:
    """A file the multipart parser saved under uploads/<new id>/ becomes an Upload."""
    upload_id = saved_path.parent.name
    return _probe_into_upload(store, owner, saved_path, filename, upload_id)


def new_upload_dir() -> tuple[str, Path]:
    upload_id = new_id()
    d = artifacts.upload_dir(upload_id)
    d.mkdir(parents=True, exist_ok=True)
    return upload_id, d


def store_base64(store: JobStore, owner: str, value: str, kinds: tuple[str, ...],
                 field: str) -> m.Upload:
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
    return _probe_into_upload(store, owner, path, path.name, upload_id, kinds)


def paths_allowed(local_only: bool) -> bool:
    return bool(get_settings().allowed_roots) or local_only


def normalize_input(store: JobStore, owner: str, field: str, value: Any,
                    kinds: tuple[str, ...], local_only: bool) -> dict[str, Any]:
    """One input reference -> {"type": "upload"|"url"|"path", ...} (validated now)."""
    if isinstance(value, str):
        v = value.strip()
        if _HEX.match(v):
            value = {"upload_id": v}
        elif v[:5].lower() == "data:":
            value = {"base64": v}
        elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", v):
            value = {"url": v}
        else:
            value = {"path": v}
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
        if up.kind not in kinds:
            raise ApiError(415, "unsupported_media",
                           f"{field}: the upload is {'a video' if up.kind == 'video' else 'an image'}"
                           f", but this input takes {' or '.join(kinds)}.", detected=up.kind)
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
        up = store_base64(store, owner, v, kinds, f"{field}.base64")
        return {"type": "upload", "upload_id": up.id}
    if key == "path":
        if not paths_allowed(local_only):
            raise ApiError(400, "paths_disabled",
                           f"{field}: server paths are disabled on this server; set "
                           "REELSMITH_ALLOWED_ROOTS to the directories clients may read.")
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
