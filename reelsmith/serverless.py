"""RunPod serverless worker: ``python -m reelsmith.serverless`` (``--test_input '{...}'`` runs
one job locally through the runpod SDK's own test mode).

A face: it turns a RunPod job into a call of :func:`reelsmith.jobs.handler.run_handler_input`
and forwards progress through the SDK; no processing logic lives here.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from reelsmith.config import get_settings
from reelsmith.engine.context import JobContext, ProgressEvent
from reelsmith.jobs.handler import run_handler_input


def _on_runpod() -> bool:
    return bool(os.environ.get("RUNPOD_WEBHOOK_GET_JOB") or os.environ.get("RUNPOD_POD_ID"))


class _ProgressForwarder:
    """Throttled progress: the SDK posts each update over HTTP, so at most one per 2 s."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self._last = 0.0

    def __call__(self, ev: ProgressEvent) -> None:
        now = time.monotonic()
        if now - self._last < 2.0 and ev.progress < 1.0:
            return
        self._last = now
        payload = {"stage": ev.stage, "progress": round(ev.progress, 4),
                   "eta_seconds": round(ev.eta_seconds, 1) if ev.eta_seconds else None}
        if ev.preview:
            payload["preview"] = ev.preview
        if _on_runpod():
            import runpod

            runpod.serverless.progress_update(self.job, payload)
        else:
            print(f"progress: {payload}", file=sys.stderr)


def handler(job: dict[str, Any]) -> dict[str, Any]:
    """The RunPod handler. Returns the result dict; never raises."""
    settings = get_settings()
    if not isinstance(job, dict):
        job = {}
    job_input = job.get("input")
    timeout = settings.job_timeout_s
    if isinstance(job_input, dict) and isinstance(job_input.get("timeout"), int | float):
        timeout = min(timeout, float(job_input["timeout"]))
    ctx = JobContext(on_progress=_ProgressForwarder(job), timeout_s=timeout)
    return run_handler_input(job_input if job_input is not None else {}, ctx,
                             job_id=str(job.get("id") or "") or None)


def main() -> None:
    import runpod

    runpod.serverless.start({"handler": handler})


if __name__ == "__main__":
    main()
