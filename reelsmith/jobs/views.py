"""JSON shapes of jobs: the /api/v1 view and the RunPod view (shared by server and webhooks)."""

from __future__ import annotations

from typing import Any

from reelsmith.config import get_settings
from reelsmith.jobs import models as m

#: /v2 results up to this size are returned inline as a data URI (the worker contract).
INLINE_MAX_BYTES = 20 * 1024 * 1024

RUNPOD_STATUS = {
    m.QUEUED: "IN_QUEUE",
    m.RUNNING: "IN_PROGRESS",
    m.COMPLETED: "COMPLETED",
    m.FAILED: "FAILED",
    m.CANCELLED: "CANCELLED",
}


def _base() -> str:
    return get_settings().public_url.rstrip("/")


def job_result_url(job: m.Job) -> str:
    return f"{_base()}/api/v1/jobs/{job.id}/result"


def artifact_url(job_id: str, role: str) -> str:
    return f"{_base()}/api/v1/jobs/{job_id}/artifacts/{role}"


def job_view(job: m.Job, *, deliveries: list[m.WebhookDelivery] | None = None,
             listing: bool = False) -> dict[str, Any]:
    """The /api/v1 shape. ``listing``: without params and inputs (lists stay small)."""
    out: dict[str, Any] = {
        "id": job.id,
        "workflow": job.workflow,
        "kind": job.kind,
        "status": job.status,
        "priority": job.priority,
        "stage": job.stage,
        "progress": 1.0 if job.status == m.COMPLETED else job.progress,
        "message": job.message,
        "eta_seconds": job.eta_seconds if job.status == m.RUNNING else None,
        "params": job.params,
        "inputs": job.inputs,
        "error": job.error,
        "error_code": job.error_code,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "cancel_requested": job.cancel_requested,
        "webhook_url": job.webhook_url,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "result_url": job_result_url(job) if job.status == m.COMPLETED else None,
        "artifacts_expired": job.artifacts_expired,
    }
    if listing:
        del out["params"], out["inputs"]
    if job.status == m.COMPLETED and job.result:
        out["outputs"] = {role: artifact_url(job.id, role)
                          for role in (job.result.get("outputs") or {})}
    if deliveries is not None:
        out["webhook_deliveries"] = [
            {"url": d.url, "event": d.event, "attempt": d.attempt, "ok": d.ok,
             "status_code": d.status_code, "error": d.error, "at": d.at}
            for d in deliveries
        ]
    return out


def runpod_state(job: m.Job) -> str:
    """The RunPod status word of a job."""
    if job.status == m.FAILED and job.error_code == "timed_out":
        return "TIMED_OUT"
    return RUNPOD_STATUS[job.status]


def _inline_or_url(job: m.Job, role: str, filename: str) -> str:
    from reelsmith.jobs.artifacts import artifacts_dir
    from reelsmith.jobs.handler import data_uri

    path = artifacts_dir(job.id) / filename
    try:
        if not job.artifacts_expired and path.stat().st_size <= INLINE_MAX_BYTES:
            return data_uri(path)
    except OSError:
        pass
    return artifact_url(job.id, role)


def runpod_output(job: m.Job) -> dict[str, Any]:
    """The worker-contract output of a finished /v2 job, built from its artifacts when read:
    ``video`` (a data URI up to ``INLINE_MAX_BYTES``, else its download URL) or, with
    ``network_volume``, ``video_path``; always ``video_url``; ``files`` for more outputs."""
    res = job.result or {}
    outputs: dict[str, Any] = res.get("outputs") or {}
    published: dict[str, str] = job.published or res.get("published") or {}
    meta = dict(res.get("metadata") or {})
    out: dict[str, Any] = {"metadata": meta}
    if not outputs:
        return out
    main, *rest = outputs
    if published:
        out["video_path"] = published.get(main)
        if rest:
            out["files"] = dict(published)
    else:
        out["video"] = _inline_or_url(job, main, outputs[main]["filename"])
        if rest:
            out["files"] = {r: _inline_or_url(job, r, outputs[r]["filename"]) for r in rest}
    out["video_url"] = artifact_url(job.id, main)
    if isinstance(meta.get("output"), dict):
        meta["output"] = dict(meta["output"], path=out.get("video_path"))
    return out


def runpod_status(job: m.Job) -> dict[str, Any]:
    out: dict[str, Any] = {"id": job.id, "status": runpod_state(job)}
    if job.started_at:
        out["delayTime"] = int((job.started_at - job.created_at) * 1000)
    if job.started_at and job.finished_at:
        out["executionTime"] = int((job.finished_at - job.started_at) * 1000)
    if job.status == m.COMPLETED:
        out["output"] = runpod_output(job)
    elif job.status in (m.FAILED, m.CANCELLED) and job.error:
        out["error"] = job.error
    return out
