"""RunPod-compatible serverless API under ``/v2/{endpoint_id}``.

Same request and response shapes as RunPod (``{"input": {...}, "webhook": url}`` ->
``{"id", "status": "IN_QUEUE"}``; statuses IN_QUEUE, IN_PROGRESS, COMPLETED, FAILED,
CANCELLED, TIMED_OUT), backed by the same job table, and running the same handler as the
serverless worker (:func:`reelsmith.jobs.handler.run_handler_input`). Client code written
against ``reelsmith serve`` works against RunPod unchanged, and back.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from reelsmith.errors import InputError
from reelsmith.jobs import artifacts
from reelsmith.jobs import models as m
from reelsmith.jobs.views import runpod_status
from reelsmith.server.api_v1 import cancel_and_wait
from reelsmith.server.auth import require_owner
from reelsmith.server.errors import ApiError, validation_error
from reelsmith.server.intake import paths_allowed

router = APIRouter(prefix="/v2/{endpoint_id}", tags=["runpod"])


def _st(request: Request):  # noqa: ANN202
    return request.app.state.rs


async def _submit(request: Request, endpoint_id: str, owner: str) -> m.Job:
    try:
        body = await request.json()
    except Exception:  # noqa: BLE001 - any decoding problem
        raise validation_error([{"field": "body", "message": "invalid JSON"}]) from None
    if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
        raise validation_error([{"field": "input", "message": "must be a JSON object"}])
    job_input: dict[str, Any] = body["input"]
    if any(k.endswith("_path") and job_input.get(k) for k in job_input) and not paths_allowed(
            _st(request).local_only):
        raise ApiError(400, "paths_disabled", "Server paths are disabled on this server; send "
                       "video_url or video_base64, or set REELSMITH_ALLOWED_ROOTS.")
    webhook = body.get("webhook")
    if webhook is not None:
        from reelsmith.jobs.webhooks import check_url

        if not isinstance(webhook, str):
            raise validation_error([{"field": "webhook", "message": "must be a URL string"}])
        try:
            check_url(webhook)
        except InputError as exc:
            raise validation_error([{"field": "webhook", "message": exc.message}]) from None
    workflow = job_input.get("workflow") or job_input.get("task_type") or "upscale"
    priority = 0
    policy = body.get("policy")
    if isinstance(policy, dict) and isinstance(policy.get("priority"), int):
        priority = max(-100, min(100, policy["priority"]))
    st = _st(request)
    job = await run_in_threadpool(
        st.store.create_job, owner=owner, workflow=str(workflow)[:100], params=job_input,
        inputs={}, priority=priority, webhook_url=webhook, kind=m.KIND_RUNPOD,
        endpoint_id=endpoint_id[:100])
    st.dispatcher.submit(job.id, job.priority)
    return job


def _job(request: Request, endpoint_id: str, job_id: str, owner: str) -> m.Job:
    st = _st(request)
    job = st.store.get(job_id, owner) if artifacts.valid_id(job_id) else None
    if job is None or job.kind != m.KIND_RUNPOD or job.endpoint_id != endpoint_id:
        raise ApiError(404, "not_found", f"There is no request with id {job_id!r}.")
    return job


@router.post("/run")
async def run(endpoint_id: str, request: Request,
              owner: str = Depends(require_owner)) -> dict[str, Any]:
    job = await _submit(request, endpoint_id, owner)
    return {"id": job.id, "status": "IN_QUEUE"}


@router.post("/runsync")
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
    return {"id": job.id, "status": runpod_status(cur)["status"]}


@router.api_route("/status/{job_id}", methods=["GET", "POST"])
async def status(endpoint_id: str, job_id: str, request: Request,
                 owner: str = Depends(require_owner)) -> dict[str, Any]:
    return runpod_status(_job(request, endpoint_id, job_id, owner))


@router.api_route("/stream/{job_id}", methods=["GET", "POST"])
async def stream(endpoint_id: str, job_id: str, request: Request,
                 owner: str = Depends(require_owner)) -> dict[str, Any]:
    """New chunks since the last call: progress while running, then the final output once."""
    st = _st(request)
    job = _job(request, endpoint_id, job_id, owner)
    rp = runpod_status(job)
    sent = st.stream_sent
    chunks: list[dict[str, Any]] = []
    if job.status == m.RUNNING:
        live = st.hub.last(job.id) or {}
        mark = hash((live.get("stage"), live.get("progress"), job.progress))
        if sent.get(job.id) != mark:
            sent[job.id] = mark
            chunks.append({"output": {"stage": live.get("stage", job.stage),
                                      "progress": live.get("progress", job.progress),
                                      "message": live.get("message", job.message)}})
    elif job.status == m.COMPLETED and sent.get(job.id) != -1:
        sent[job.id] = -1
        chunks.append({"output": rp.get("output")})
    out = {"status": rp["status"], "stream": chunks}
    if "error" in rp:
        out["error"] = rp["error"]
    return out


@router.post("/cancel/{job_id}")
async def cancel(endpoint_id: str, job_id: str, request: Request,
                 owner: str = Depends(require_owner)) -> dict[str, Any]:
    job = _job(request, endpoint_id, job_id, owner)
    await cancel_and_wait(request, job.id)
    return {"id": job.id, "status": runpod_status(_st(request).store.get(job.id))["status"]}


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
