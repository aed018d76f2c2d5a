"""Run one claimed job: resolve inputs, call the workflow (or the RunPod handler), publish
artifacts, record the outcome. Shared by the local runner and the Celery worker.

While the job runs, a heartbeat thread refreshes the job's lease and picks up a cancel
request made through the job table (from any process); progress is written to the table
(throttled) and, when given, to an in-process :class:`ProgressHub`.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from reelsmith.config import get_settings
from reelsmith.engine.context import JobContext, ProgressEvent
from reelsmith.errors import Cancelled, InputError, ReelsmithError, TimedOut
from reelsmith.jobs import artifacts
from reelsmith.jobs import models as m
from reelsmith.jobs.notify import Publish, job_finished
from reelsmith.jobs.store import JobStore
from reelsmith.workflows.base import Workflow
from reelsmith.workflows.binding import bind_sources, map_sources

log = logging.getLogger(__name__)


def _resolve_ref(store: JobStore, job: m.Job, ref: dict[str, Any], kinds: tuple[str, ...],
                 work: Path) -> Path:
    """One stored input reference (validated when the job was created) to a local file."""
    from reelsmith.inputs import Upload, resolve_source

    src: Any
    if ref["type"] == "upload":
        up = store.get_upload(ref["upload_id"], owner=job.owner)
        if up is None:
            raise InputError(f"The upload {ref['upload_id']} no longer exists.")
        src = Upload(Path(up.path), up.filename)
    elif ref["type"] == "url":
        src = ref["url"]
    elif ref["type"] == "path":
        src = Path(ref["path"])
    else:  # pragma: no cover - validated at creation
        raise InputError(f"Unknown input type {ref['type']!r}.")
    return resolve_source(src, work_dir=work, kinds=kinds).path


def resolve_job_inputs(store: JobStore, job: m.Job, wf: Workflow, work: Path) -> dict[str, Path]:
    """Bind the stored input references to the workflow's inputs again (the workflow may
    have changed since the job was queued) and turn them into local files."""
    bound = bind_sources(wf, named=job.inputs or {})
    return map_sources(bound, lambda b, ref: _resolve_ref(store, job, ref, b.spec.kinds, work))


def _workflow_and_params(job: m.Job):  # noqa: ANN202 - (Workflow, BaseModel, network_volume)
    if job.kind == m.KIND_RUNPOD:
        from reelsmith.jobs import handler

        req = handler.parse_input(job.params, need_sources=False)
        return req.workflow, req.params, req.network_volume
    from reelsmith.workflows import get_workflow

    wf = get_workflow(job.workflow)
    return wf, wf.parse_params(job.params), False


def _run_workflow(store: JobStore, job: m.Job, ctx: JobContext, work: Path) -> dict[str, Any]:
    """Resolve the stored inputs, run the workflow, publish its outputs as artifacts.

    RunPod jobs (``/v2``) take the same path: their worker input is parsed by the shared
    handler; with ``network_volume`` the outputs are also copied to the output dir, and
    those copies are recorded on the job (deleted and expired with it)."""
    wf, params, network_volume = _workflow_and_params(job)
    ctx.stage("fetching input", 0.0, 0.02)
    inputs = resolve_job_inputs(store, job, wf, work)
    ctx.check()
    out = work / ("output" + wf.output_suffix(inputs, params))
    t0 = time.time()
    result = wf.run(ctx, inputs, params, out)
    ctx.check()
    run_s = time.time() - t0
    published = artifacts.publish_outputs(job.id, dict(result.outputs))
    outputs = {
        role: {"filename": p.name, "size_bytes": p.stat().st_size,
               "content_type": artifacts.content_type(p)}
        for role, p in published.items()
    }
    started = job.started_at or t0
    meta = dict(result.metadata)
    res: dict[str, Any] = {
        "outputs": outputs,
        "metadata": meta,
        "backend": meta.get("backend"),
        "timings": {"queued_s": round(started - job.created_at, 3),
                    "run_s": round(run_s, 3),
                    "total_s": round(time.time() - job.created_at, 3)},
    }
    if network_volume:
        from reelsmith.jobs.handler import publish_copy

        dest = get_settings().output_dir
        copies: dict[str, str] = {}
        try:
            for role, p in published.items():
                copies[role] = str(publish_copy(p, dest, f"{job.id[:12]}_{p.name}"))
        finally:
            store.set_published(job.id, copies)
        res["published"] = copies
    return res


class _Heartbeat(threading.Thread):
    """Refreshes the lease; turns a cancel request in the table into ctx.cancel()."""

    def __init__(self, store: JobStore, job_id: str, worker_id: str, ctx: JobContext,
                 interval: float) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id[:8]}")
        self.store, self.job_id, self.worker_id, self.ctx = store, job_id, worker_id, ctx
        self.interval = interval
        self.stop = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                flag = self.store.heartbeat(self.job_id, self.worker_id)
            except Exception:  # noqa: BLE001 - database hiccup: try again next beat
                log.debug("heartbeat failed", exc_info=True)
                continue
            if flag is None:
                self.lost = True
                self.ctx.cancel()
                return
            if flag:
                self.ctx.cancel()


def execute_job(store: JobStore, job: m.Job, worker_id: str, *,
                ctx: JobContext | None = None, publish: Publish | None = None,
                send_webhooks: bool = True) -> str | None:
    """Run a job this worker has claimed. Returns the final status (None: lease lost)."""
    from reelsmith.jobs import lifecycle

    lifecycle.started(job, worker_id)
    began = time.monotonic()
    s = get_settings()
    ctx = ctx or JobContext(timeout_s=s.job_timeout_s or None)
    if job.cancel_requested:
        ctx.cancel()
    work = artifacts.work_dir(job.id, job.attempts)
    work.mkdir(parents=True, exist_ok=True)
    ctx.work_dir = work
    last_write = [0.0]

    def on_progress(ev: ProgressEvent) -> None:
        state = {"job_id": job.id, "status": m.RUNNING, "stage": ev.stage,
                 "progress": round(ev.progress, 4), "message": ev.message,
                 "eta_seconds": None if ev.eta_seconds is None else round(ev.eta_seconds, 1)}
        if ev.done is not None and ev.total:
            state.update(done=ev.done, total=ev.total)
        if publish:
            # A preview rides on the live event only: it is never written to the job table.
            publish(state | {"preview": ev.preview} if ev.preview else state)
        now = time.monotonic()
        if now - last_write[0] >= 0.5 or ev.progress >= 1.0:
            last_write[0] = now
            try:
                store.set_progress(job.id, worker_id, stage=ev.stage, progress=ev.progress,
                                   message=ev.message, eta_seconds=ev.eta_seconds)
            except Exception:  # noqa: BLE001 - progress is best effort
                log.debug("progress write failed", exc_info=True)

    ctx.subscribe(on_progress)
    if publish:
        publish({"job_id": job.id, "status": m.RUNNING, "stage": "starting", "progress": 0.0,
                 "message": "", "eta_seconds": None})
    beat = _Heartbeat(store, job.id, worker_id, ctx, max(0.2, min(1.0, s.job_lease_s / 4)))
    beat.start()
    status, result, error, code = m.FAILED, None, None, None
    try:
        result = _run_workflow(store, job, ctx, work)
        status = m.COMPLETED
    except TimedOut as exc:
        status, error, code = m.FAILED, exc.message, "timed_out"
    except Cancelled as exc:
        status, error, code = m.CANCELLED, exc.message, "cancelled"
    except ReelsmithError as exc:
        status, error, code = m.FAILED, exc.message, exc.code
    except Exception as exc:  # noqa: BLE001 - a sentence, not a traceback, reaches the user
        log.exception("job %s crashed", job.id)
        status, error, code = m.FAILED, f"Internal error: {type(exc).__name__}: {exc}", "internal"
    finally:
        beat.stop.set()
        beat.join(timeout=5)
        artifacts.remove_tree(work)
    if beat.lost:
        log.warning("job %s: lease lost; another worker owns it now", job.id)
        return None
    if status == m.CANCELLED and getattr(ctx, "shutdown", False):
        # Stopped by a worker/server shutdown, not by the user: give it back to the queue.
        store.release(job.id, worker_id, "re-queued after a worker shutdown")
        return None
    if status != m.COMPLETED:
        artifacts.remove_tree(artifacts.artifacts_dir(job.id))
        from reelsmith.jobs.control import remove_published

        remove_published(store.get(job.id) or job)
    if not store.finish(job.id, worker_id, status, result=result, error=error, error_code=code):
        return None
    lifecycle.finished(job.id, job.owner, job.workflow, status, time.monotonic() - began, error)
    job_finished(store, job.id, publish=publish, send_webhooks=send_webhooks)
    return status
