"""JSON shapes of jobs: the /api/v1 view and the RunPod view (shared by server and webhooks)."""

from __future__ import annotations

from typing import Any

from reelsmith.config import get_settings
from reelsmith.jobs import models as m

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


def job_view(job: m.Job, *, deliveries: list[m.WebhookDelivery] | None = None) -> dict[str, Any]:
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
    if job.status == m.COMPLETED and job.result and job.kind == m.KIND_WORKFLOW:
        out["outputs"] = {role: artifact_url(job.id, role)
                          for role in (job.result.get("outputs") or {})}
    if deliveries is not None:
        out["webhook_deliveries"] = [
            {"url": d.url, "event": d.event, "attempt": d.attempt, "ok": d.ok,
             "status_code": d.status_code, "error": d.error, "at": d.at}
            for d in deliveries
        ]
    return out


def runpod_status(job: m.Job) -> dict[str, Any]:
    status = RUNPOD_STATUS[job.status]
    if job.status == m.FAILED and job.error_code == "timed_out":
        status = "TIMED_OUT"
    out: dict[str, Any] = {"id": job.id, "status": status}
    if job.started_at:
        out["delayTime"] = int((job.started_at - job.created_at) * 1000)
    if job.started_at and job.finished_at:
        out["executionTime"] = int((job.finished_at - job.started_at) * 1000)
    if job.status == m.COMPLETED:
        out["output"] = (job.result or {}).get("output")
    elif job.status in (m.FAILED, m.CANCELLED) and job.error:
        out["error"] = job.error
        if job.result and "output" in job.result:
            out["output"] = job.result["output"]
    return out
