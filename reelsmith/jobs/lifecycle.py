"""One log line per job state change, with structured fields (see :mod:`reelsmith.logs`).

Lines carry ids, owner, workflow, status and timings only: never a job's inputs, URLs or
parameters. Every field is also passed as ``extra`` so JSON logs can be queried by it.
"""

from __future__ import annotations

import logging
from typing import Any

from reelsmith.jobs import models as m

log = logging.getLogger("reelsmith.jobs.lifecycle")


def _emit(level: int, event: str, fields: dict[str, Any], error: str | None = None) -> None:
    extra = {"event": event, **{k: v for k, v in fields.items() if v is not None}}
    if error:
        extra["error"] = error
    log.log(level, event.replace(".", " ", 1), extra=extra)


def queued(job: m.Job) -> None:
    """A job was created (or re-created) and waits for a worker."""
    _emit(logging.INFO, "job.queued", {"job_id": job.id, "owner": job.owner,
                                       "workflow": job.workflow, "kind": job.kind,
                                       "priority": job.priority})


def started(job: m.Job, worker_id: str) -> None:
    """A worker claimed the job and begins running it."""
    _emit(logging.INFO, "job.started", {"job_id": job.id, "owner": job.owner,
                                        "workflow": job.workflow, "worker_id": worker_id,
                                        "attempt": job.attempts})


def finished(job_id: str, owner: str, workflow: str, status: str, seconds: float,
             error: str | None = None) -> None:
    """The job ended: ``completed``, ``failed`` (with the error sentence) or ``cancelled``."""
    level = logging.WARNING if status == m.FAILED else logging.INFO
    _emit(level, "job.finished", {"job_id": job_id, "owner": owner, "workflow": workflow,
                                  "status": status, "seconds": round(float(seconds), 3)},
          error if status != m.COMPLETED else None)


def requeued(job_id: str, reason: str) -> None:
    """The job went back to the queue (lost worker, shutdown, retry)."""
    _emit(logging.INFO, "job.requeued", {"job_id": job_id, "reason": reason})
