"""RunPod-compatible serverless API under ``/v2/{endpoint_id}``.

Same request and response shapes as RunPod (``{"input": {...}, "webhook": url}`` ->
``{"id", "status": "IN_QUEUE"}``; statuses IN_QUEUE, IN_PROGRESS, COMPLETED, FAILED,
CANCELLED, TIMED_OUT), backed by the same job table, and running the same handler as the
serverless worker (:func:`reelsmith.jobs.handler.run_handler_input`). Client code written
against ``reelsmith serve`` works against RunPod unchanged, and back.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from reelsmith.errors import InputError
from reelsmith.jobs import artifacts, handler
from reelsmith.jobs import models as m
from reelsmith.jobs.store import new_id
from reelsmith.jobs.views import runpod_output, runpod_state, runpod_status
from reelsmith.server import intake
from reelsmith.server.auth import require_owner
from reelsmith.server.bodies import read_json
from reelsmith.server.diskguard import require_disk_space
from reelsmith.server.errors import ApiError, validation_error
from reelsmith.server.state import ServerState
from reelsmith.workflows.binding import BoundInput, map_sources

router = APIRouter(prefix="/v2/{endpoint_id}", tags=["runpod"])


def _st(request: Request) -> ServerState:
    return request.app.state.rs


async def _submit(request: Request, endpoint_id: str, owner: str) -> m.Job:
    """Check the whole request at the door (workflow, parameters, every source under the
    same input policy as /api/v1), store base64 as job-owned uploads, then queue it."""
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
        raise validation_error([{"field": "input", "message": "must be a JSON object"}])
    job_input: dict[str, Any] = body["input"]
    try:
        req = handler.parse_input(job_input)
    except InputError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    webhook = body.get("webhook")
    if webhook is not None:
        from reelsmith.jobs.webhooks import check_url

        if not isinstance(webhook, str):
            raise validation_error([{"field": "webhook", "message": "must be a URL string"}])
        try:
            check_url(webhook)
        except InputError as exc:
            raise validation_error([{"field": "webhook", "message": exc.message}]) from None
    priority = 0
    policy = body.get("policy")
    if isinstance(policy, dict) and isinstance(policy.get("priority"), int):
        priority = max(-100, min(100, policy["priority"]))
    st = _st(request)
    job_id = new_id()
    allow_paths = st.paths_allowed()

    def store() -> m.Job:
        with st.jobs.uploads_owned_by(job_id):
            refs = map_sources(req.sources, lambda b, src: intake.normalize_input(
                st.store, owner, _field(b, src), src, b.spec.kinds, allow_paths, job_id=job_id))
            return st.jobs.create(
                owner=owner, workflow=req.workflow.name, params=handler.without_sources(job_input),
                inputs=refs, priority=priority, webhook_url=webhook, kind=m.KIND_RUNPOD,
                endpoint_id=endpoint_id[:100], job_id=job_id)

    return await run_in_threadpool(store)


def _field(bound: BoundInput, source: dict[str, Any]) -> str:
    """How the client named this source: ``video_url`` at the top level, ``inputs.NAME`` inside."""
    (kind, _), = source.items()
    return f"video_{kind}" if bound.positional else bound.field


def _job(request: Request, endpoint_id: str, job_id: str, owner: str) -> m.Job:
    st = _st(request)
    job = st.store.get(job_id, owner) if artifacts.valid_id(job_id) else None
    if job is None or job.kind != m.KIND_RUNPOD or job.endpoint_id != endpoint_id:
        raise ApiError(404, "not_found", f"There is no request with id {job_id!r}.")
    return job


@router.post("/run", dependencies=[Depends(require_disk_space)])
async def run(endpoint_id: str, request: Request,
              owner: str = Depends(require_owner)) -> dict[str, Any]:
    job = await _submit(request, endpoint_id, owner)
    return {"id": job.id, "status": "IN_QUEUE"}


@router.post("/runsync", dependencies=[Depends(require_disk_space)])
async def runsync(endpoint_id: str, request: Request, owner: str = Depends(require_owner),
                  wait: int = Query(90_000, ge=1000, le=300_000,
                                    description="milliseconds to wait")) -> dict[str, Any]:
    job = await _submit(request, endpoint_id, owner)
    st = _st(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait / 1000
    while loop.time() < deadline:
        cur = await run_in_threadpool(st.store.get, job.id)
        if cur is not None and cur.status in m.FINISHED:
            return runpod_status(cur)
        await asyncio.sleep(0.1)
    cur = st.store.get(job.id)
    return {"id": job.id, "status": runpod_state(cur)}


@router.api_route("/status/{job_id}", methods=["GET", "POST"])
async def status(endpoint_id: str, job_id: str, request: Request,
                 owner: str = Depends(require_owner)) -> dict[str, Any]:
    return runpod_status(_job(request, endpoint_id, job_id, owner))


@router.api_route("/stream/{job_id}", methods=["GET", "POST"])
async def stream(endpoint_id: str, job_id: str, request: Request,
                 owner: str = Depends(require_owner)) -> dict[str, Any]:
    """New chunks since the last call: progress while running, then the final output once.

    The cursor is kept on the job row and moved by compare-and-set, so a restart or a
    second server neither replays nor skips a chunk."""
    st = _st(request)
    job = _job(request, endpoint_id, job_id, owner)
    chunks: list[dict[str, Any]] = []
    if job.status == m.RUNNING:
        live = st.hub.last(job.id) or {}
        state = {"stage": live.get("stage", job.stage), "progress": live.get("progress", job.progress),
                 "message": live.get("message", job.message)}
        mark = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:32]
        if job.stream_mark != mark and await run_in_threadpool(
                st.store.swap_stream_mark, job.id, job.stream_mark, mark):
            chunks.append({"output": state})
    elif job.status == m.COMPLETED and job.stream_mark != "final" and await run_in_threadpool(
            st.store.swap_stream_mark, job.id, job.stream_mark, "final"):
        chunks.append({"output": runpod_output(job)})
    out: dict[str, Any] = {"status": runpod_state(job), "stream": chunks}
    if job.status in (m.FAILED, m.CANCELLED) and job.error:
        out["error"] = job.error
    return out


@router.post("/cancel/{job_id}")
async def cancel(endpoint_id: str, job_id: str, request: Request,
                 owner: str = Depends(require_owner)) -> dict[str, Any]:
    job = _job(request, endpoint_id, job_id, owner)
    await _st(request).jobs.cancel_and_wait(job.id)
    return {"id": job.id, "status": runpod_state(_st(request).store.get(job.id))}


@router.get("/health")
async def health(endpoint_id: str, request: Request,
                 owner: str = Depends(require_owner)) -> dict[str, Any]:
    st = _st(request)
    c = await run_in_threadpool(st.store.counts, owner)
    return {"jobs": {"completed": c["completed"], "failed": c["failed"] + c["cancelled"],
                     "inProgress": c["running"], "inQueue": c["queued"], "retried": 0},
            "workers": st.dispatcher.workers()}


@router.post("/purge-queue")
async def purge_queue(endpoint_id: str, request: Request,
                      owner: str = Depends(require_owner)) -> dict[str, Any]:
    n = await run_in_threadpool(_st(request).store.purge_queue, owner=owner,
                                endpoint_id=endpoint_id)
    return {"removed": n, "status": "completed"}
