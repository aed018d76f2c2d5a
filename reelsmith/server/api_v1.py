"""/api/v1: workflows, uploads, jobs, results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, ValidationError

from reelsmith.config import get_settings
from reelsmith.errors import InputError
from reelsmith.jobs import artifacts, control
from reelsmith.jobs import models as m
from reelsmith.jobs.store import new_id
from reelsmith.jobs.views import job_view
from reelsmith.server import intake
from reelsmith.server.auth import Caller, require_caller, require_job_reader, require_owner
from reelsmith.server.bodies import read_json
from reelsmith.server.diskguard import require_disk_space
from reelsmith.server.errors import ApiError, field_errors, validation_error
from reelsmith.server.multipart import parse_multipart
from reelsmith.server.state import ServerState
from reelsmith.workflows.binding import BindingError, bind_sources, map_sources

router = APIRouter(prefix="/api/v1")


def _st(request: Request) -> ServerState:
    return request.app.state.rs


class JobCreate(BaseModel):
    """Create a job. ``inputs`` maps the workflow's input names to a source: an upload id,
    ``{"upload_id"}``, ``{"url"}``, ``{"base64"}`` (or a data: URI) or ``{"path"}`` (a file
    on the server, under REELSMITH_ALLOWED_ROOTS)."""

    workflow: str = Field(..., min_length=1, max_length=100)
    inputs: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(0, ge=-100, le=100, description="higher runs first")
    webhook_url: str | None = Field(None, max_length=2000)


# -- workflows ----------------------------------------------------------------------
@router.get("/workflows", tags=["workflows"])
async def workflows(owner: str = Depends(require_owner)) -> dict[str, Any]:
    from reelsmith.workflows import list_workflows

    return {"workflows": [wf.describe() for wf in list_workflows()]}


@router.get("/workflows/{name}", tags=["workflows"])
async def workflow(name: str, owner: str = Depends(require_owner)) -> dict[str, Any]:
    return _workflow_or_400(name).describe()


def _workflow_or_400(name: str):  # noqa: ANN202
    from reelsmith.workflows import get_workflow, list_workflows

    try:
        return get_workflow(name)
    except InputError as exc:
        raise ApiError(400, "unknown_workflow", exc.message,
                       valid_workflows=[w.name for w in list_workflows()]) from None


# -- uploads ------------------------------------------------------------------------
async def _receive_multipart(request: Request):  # noqa: ANN202 - (id, dir, parsed form)
    """Stream the multipart body into a new upload dir (the request guard has already
    refused an oversized declared length). On any failure the directory is removed."""
    upload_id, d = intake.new_upload_dir()
    try:
        form = await parse_multipart(request, d, get_settings().max_input_bytes)
    except BaseException:
        artifacts.remove_tree(d)
        raise
    return upload_id, d, form


def _upload_view(up: m.Upload) -> dict[str, Any]:
    media = {k: v for k, v in (up.media or {}).items() if k != "path"}
    return {"id": up.id, "filename": up.filename, "size_bytes": up.size_bytes, "kind": up.kind,
            "media": media, "created_at": up.created_at}


@router.post("/uploads", status_code=201, tags=["uploads"], dependencies=[Depends(require_disk_space)],
             openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                 "type": "object", "properties": {"file": {"type": "string",
                                                           "format": "binary"}}}}}}})
async def upload(request: Request, owner: str = Depends(require_owner)) -> dict[str, Any]:
    """Upload one media file (multipart field ``file``); returns an id usable as an input."""
    upload_id, d, form = await _receive_multipart(request)
    if len(form.files) != 1:
        form.discard()
        artifacts.remove_tree(d)
        raise validation_error([{"field": "file", "message": "send exactly one file"}],
                               "Invalid upload")
    f = form.files[0]
    up = await run_in_threadpool(intake.store_file_upload, _st(request).store, owner, f.path,
                                 f.filename)
    return _upload_view(up)


@router.get("/uploads/{upload_id}", tags=["uploads"])
async def get_upload(upload_id: str, request: Request,
                     owner: str = Depends(require_owner)) -> dict[str, Any]:
    up = _st(request).store.get_upload(upload_id, owner) if artifacts.valid_id(upload_id) else None
    if up is None:
        raise ApiError(404, "not_found", f"There is no upload with id {upload_id!r}.")
    return _upload_view(up)


@router.delete("/uploads/{upload_id}", tags=["uploads"])
async def delete_upload(upload_id: str, request: Request,
                        owner: str = Depends(require_owner)) -> dict[str, Any]:
    st = _st(request)
    up = st.store.get_upload(upload_id, owner) if artifacts.valid_id(upload_id) else None
    if up is None:
        raise ApiError(404, "not_found", f"There is no upload with id {upload_id!r}.")
    control.delete_upload(st.store, upload_id)
    return {"id": upload_id, "deleted": True}


# -- jobs ---------------------------------------------------------------------------
def _job_or_404(request: Request, job_id: str, owner: str) -> m.Job:
    job = _st(request).store.get(job_id, owner) if artifacts.valid_id(job_id) else None
    if job is None:
        raise ApiError(404, "not_found", f"There is no job with id {job_id!r}.")
    return job


def create_job_from(st: ServerState, owner: str, body: JobCreate,
                    files: dict[str, list[str]] | None = None, job_id: str | None = None) -> m.Job:
    """Validate everything, store inputs, then create and submit the job through the job
    service. ``files``: upload ids of the file parts sent with the request, by input name.

    Uploads made from this request (base64, files) belong to ``job_id``; when anything is
    refused, they are removed again before the error propagates."""
    job_id = job_id or new_id()
    with st.jobs.uploads_owned_by(job_id):
        return _create(st, owner, body, files or {}, job_id)


def _create(st: ServerState, owner: str, body: JobCreate, files: dict[str, list[str]],
            job_id: str) -> m.Job:
    wf = _workflow_or_400(body.workflow)
    try:
        params = wf.Params.model_validate(body.params)
    except ValidationError as exc:
        raise validation_error(field_errors(exc, "params"), "Invalid parameters") from None
    file_refs = [(name, [{"upload_id": uid} for uid in ids]) for name, ids in files.items()]
    try:
        bound = bind_sources(wf, named=[*body.inputs.items(), *file_refs])
    except BindingError as exc:
        raise validation_error([{"field": p.field, "message": p.message.rstrip(".")}
                                for p in exc.problems]) from None
    webhook = body.webhook_url
    if webhook:
        from reelsmith.jobs.webhooks import check_url

        try:
            check_url(webhook)
        except InputError as exc:
            raise validation_error([{"field": "webhook_url", "message": exc.message}]) from None
    allow_paths = st.paths_allowed()
    stored = map_sources(bound, lambda b, src: intake.normalize_input(
        st.store, owner, b.field, src, b.spec.kinds, allow_paths, job_id=job_id))
    return st.jobs.create(owner=owner, workflow=wf.name, params=json.loads(params.model_dump_json()),
                          inputs=stored, priority=body.priority, webhook_url=webhook, job_id=job_id)


@router.post("/jobs", status_code=201, tags=["jobs"], dependencies=[Depends(require_disk_space)],
             openapi_extra={"requestBody": {
    "content": {"application/json": {"schema": JobCreate.model_json_schema()},
                "multipart/form-data": {"schema": {"type": "object", "description":
                    "fields workflow, params (JSON), priority, webhook_url; one file part "
                    "per input, named after the input (e.g. video)"}}}}})
async def create_job(request: Request, owner: str = Depends(require_owner)) -> dict[str, Any]:
    """Create a job from JSON, or from multipart/form-data with the files in the same call."""
    st = _st(request)
    ctype = request.headers.get("content-type", "")
    files: dict[str, list[str]] = {}
    job_id = new_id()
    if ctype.startswith("multipart/form-data"):
        tmp_id, tmp_dir, form = await _receive_multipart(request)
        data: dict[str, Any] = {k: v for k, v in form.fields.items()}
        try:
            if "params" in data:
                try:
                    data["params"] = json.loads(data["params"] or "{}")
                except json.JSONDecodeError as exc:
                    raise validation_error([{"field": "params",
                                             "message": f"not valid JSON ({exc.msg})"}]) from None
            inputs = {}
            for k in list(data):
                if k not in ("workflow", "params", "priority", "webhook_url"):
                    inputs[k.removeprefix("inputs.")] = data.pop(k)
            data["inputs"] = inputs
            if not data.get("webhook_url"):
                data.pop("webhook_url", None)
            body = _parse_body(data)
            _workflow_or_400(body.workflow)
            for i, f in enumerate(form.files):
                name = f.field.removeprefix("inputs.")
                uid, d = (tmp_id, tmp_dir) if i == 0 else intake.new_upload_dir()
                dest = d / f.path.name
                if f.path != dest:
                    f.path.rename(dest)
                up = await run_in_threadpool(intake.store_file_upload, st.store,
                                             owner, dest, f.filename, job_id)
                files.setdefault(name, []).append(up.id)
        except BaseException:
            form.discard()
            artifacts.remove_tree(tmp_dir)
            control.delete_job_uploads(st.store, job_id)
            raise
        if not form.files:
            artifacts.remove_tree(tmp_dir)
    else:
        body = _parse_body(await read_json(request))
    job = await run_in_threadpool(create_job_from, st, owner, body, files, job_id)
    return job_view(job)


def _parse_body(data: Any) -> JobCreate:
    if not isinstance(data, dict):
        raise validation_error([{"field": "body", "message": "must be a JSON object"}])
    try:
        return JobCreate.model_validate(data)
    except ValidationError as exc:
        raise validation_error(field_errors(exc)) from None


@router.get("/jobs", tags=["jobs"])
async def list_jobs(request: Request, owner: str = Depends(require_owner),
                    status: Literal["queued", "running", "completed", "failed",
                                    "cancelled"] | None = None,
                    workflow: str | None = None,
                    limit: int = Query(50, ge=1, le=500),
                    offset: int = Query(0, ge=0)) -> dict[str, Any]:
    items, total = await run_in_threadpool(_st(request).store.list, owner=owner, status=status,
                                           workflow=workflow, limit=limit, offset=offset)
    return {"items": [job_view(j, listing=True) for j in items], "total": total, "limit": limit,
            "offset": offset, "next_offset": offset + limit if offset + limit < total else None}


@router.get("/jobs/{job_id}", tags=["jobs"])
async def get_job(job_id: str, request: Request,
                  owner: str = Depends(require_job_reader)) -> dict[str, Any]:
    job = _job_or_404(request, job_id, owner)
    return job_view(job, deliveries=_st(request).store.deliveries(job.id))


@router.post("/jobs/{job_id}/links", tags=["jobs"])
async def job_links(job_id: str, request: Request,
                    who: Caller = Depends(require_caller)) -> dict[str, Any]:
    """Short-lived URLs for this job that need no header (EventSource, WebSocket, downloads).

    They carry a signed link token (``?access=rsl_...``) valid only for this job's read
    routes, for ``REELSMITH_LINK_TTL_S`` seconds, and only while the caller's key is active."""
    from reelsmith.server import links

    job = _job_or_404(request, job_id, who.owner)
    token, expires = links.make(job.id, who.key_id)
    q = f"?access={token}"
    base = f"/api/v1/jobs/{job.id}"
    outputs = (job.result or {}).get("outputs") or {} if job.status == m.COMPLETED else {}
    return {"token": token, "expires_at": expires, "job": base + q, "events": f"{base}/events{q}",
            "websocket": f"/ws/jobs/{job.id}{q}", "result": f"{base}/result{q}",
            "artifacts": {role: f"{base}/artifacts/{role}{q}" for role in outputs}}


@router.post("/jobs/{job_id}/cancel", tags=["jobs"])
async def cancel_job(job_id: str, request: Request,
                     owner: str = Depends(require_owner)) -> dict[str, Any]:
    st = _st(request)
    job = _job_or_404(request, job_id, owner)
    status = await st.jobs.cancel_and_wait(job.id)
    job = st.store.get(job.id)
    return job_view(job) | {"status": status or job.status}


@router.post("/jobs/{job_id}/retry", tags=["jobs"], dependencies=[Depends(require_disk_space)])
async def retry_job(job_id: str, request: Request,
                    owner: str = Depends(require_owner)) -> dict[str, Any]:
    st = _st(request)
    job = _job_or_404(request, job_id, owner)
    requeued = await run_in_threadpool(st.jobs.retry, job.id)
    if requeued is None:
        raise ApiError(409, "conflict", f"Only failed or cancelled jobs can be retried; this job "
                       f"is {job.status}.")
    # The answer describes what the retry did (re-queued), as read before a runner claimed it.
    return job_view(requeued)


@router.delete("/jobs/{job_id}", tags=["jobs"])
async def delete_job(job_id: str, request: Request,
                     owner: str = Depends(require_owner)) -> dict[str, Any]:
    st = _st(request)
    job = _job_or_404(request, job_id, owner)
    if job.status in (m.QUEUED, m.RUNNING):
        await st.jobs.cancel_and_wait(job.id)
    await run_in_threadpool(st.jobs.delete, job)
    return {"id": job.id, "deleted": True}


# -- results ------------------------------------------------------------------------
@router.get("/jobs/{job_id}/result", tags=["results"])
async def result(job_id: str, request: Request,
                 owner: str = Depends(require_job_reader)) -> dict[str, Any]:
    job = _job_or_404(request, job_id, owner)
    if job.status != m.COMPLETED:
        raise ApiError(409, "not_ready", f"The job is {job.status}; it has no result yet."
                       if job.status in (m.QUEUED, m.RUNNING) else
                       f"The job is {job.status}; it has no result.", job_status=job.status,
                       job_error=job.error)
    res = dict(job.result or {})
    res["outputs"] = {role: dict(o, url=f"/api/v1/jobs/{job.id}/artifacts/{role}")
                      for role, o in (res.get("outputs") or {}).items()}
    return {"job_id": job.id, "workflow": job.workflow, "status": job.status, **res,
            "artifacts_expired": job.artifacts_expired}


@router.get("/jobs/{job_id}/artifacts/{role}", tags=["results"])
async def artifact(job_id: str, role: str, request: Request,
                   owner: str = Depends(require_job_reader)) -> FileResponse:
    """Download an output; supports HTTP Range (206) so players can seek."""
    job = _job_or_404(request, job_id, owner)
    outputs = (job.result or {}).get("outputs") or {}
    if job.status != m.COMPLETED or role not in outputs or not artifacts.valid_role(role):
        raise ApiError(404, "not_found", f"The job has no output named {role!r}.")
    name = Path(outputs[role]["filename"]).name
    path = artifacts.artifacts_dir(job.id) / name
    if job.artifacts_expired or not path.is_file():
        raise ApiError(410, "expired", "The output was removed by the retention policy.")
    return FileResponse(path, media_type=artifacts.content_type(path),
                        filename=f"{job.workflow}-{job.id[:8]}{path.suffix}",
                        content_disposition_type="inline")
