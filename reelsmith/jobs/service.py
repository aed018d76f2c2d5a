"""The job lifecycle as the faces drive it: submit, cancel, retry, delete.

Both HTTP surfaces (``/api/v1`` and the RunPod-compatible ``/v2``) and anything else that
queues work call this one service, so a job is logged, dispatched, announced and cleaned
up the same way whichever door it came through. The service knows nothing of HTTP: it
returns rows and statuses, and the routers shape responses (and pick status codes).

It holds the three things a running job system has: the job table (:class:`JobStore`),
the in-process progress fan-out (:class:`ProgressHub`) and the :class:`Dispatcher` that
hands queued jobs to a runner.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import anyio

from reelsmith.jobs import control, lifecycle
from reelsmith.jobs import models as m
from reelsmith.jobs.dispatchers import Dispatcher
from reelsmith.jobs.events import ProgressHub
from reelsmith.jobs.notify import job_finished
from reelsmith.jobs.store import JobStore


class JobService:
    def __init__(self, store: JobStore, hub: ProgressHub, dispatcher: Dispatcher) -> None:
        self.store, self.hub, self.dispatcher = store, hub, dispatcher

    # -- submit -------------------------------------------------------------------
    @contextlib.contextmanager
    def uploads_owned_by(self, job_id: str) -> Iterator[None]:
        """While a job is being created: uploads made from its own request (base64, files
        sent with it) belong to ``job_id``; if the request is refused before the job row
        exists, they are removed again before the error propagates. Once the row exists the
        job keeps them (a failed dispatch is re-sent by the outbox; deleting the job
        removes them)."""
        try:
            yield
        except BaseException:
            try:
                created = self.store.get(job_id) is not None
            except Exception:  # noqa: BLE001 - the original error is the one to report
                created = False
            if not created:
                control.delete_job_uploads(self.store, job_id)
            raise

    def create(self, *, owner: str, workflow: str, params: dict[str, Any], inputs: dict[str, Any],
               job_id: str, priority: int = 0, webhook_url: str | None = None,
               kind: str = m.KIND_WORKFLOW, endpoint_id: str | None = None) -> m.Job:
        """Insert a queued job whose inputs are already validated and stored, and submit it."""
        job = self.store.create_job(owner=owner, workflow=workflow, params=params, inputs=inputs,
                                    priority=priority, webhook_url=webhook_url, kind=kind,
                                    endpoint_id=endpoint_id, job_id=job_id)
        self.submit(job)
        return job

    def submit(self, job: m.Job) -> None:
        """Log the job as queued and hand it to the dispatcher."""
        lifecycle.queued(job)
        self.dispatcher.submit(job.id, job.priority)

    # -- cancel -------------------------------------------------------------------
    def cancel(self, job_id: str) -> str | None:
        """Flag the job cancelled. A running job is also stopped here if it runs in this
        process (elsewhere its heartbeat picks the flag up); a queued one is cancelled at
        once and announced (listeners, webhook). Returns the status the store reported
        (None: no such job)."""
        status = self.store.request_cancel(job_id)
        if status == m.RUNNING:
            self.dispatcher.cancel(job_id)
        elif status == m.CANCELLED:
            job_finished(self.store, job_id, publish=self.hub.publish)
        return status

    async def cancel_and_wait(self, job_id: str, wait_s: float = 3.0) -> str | None:
        """:meth:`cancel` (in a thread), then give a running job ``wait_s`` to stop, so an
        answer can say it did; returns the status then."""
        status = await anyio.to_thread.run_sync(self.cancel, job_id)  # the routes' thread pool
        if status == m.RUNNING:
            return await self._wait_stopped(job_id, wait_s)
        return status

    async def _wait_stopped(self, job_id: str, wait_s: float) -> str | None:
        """Poll until the job leaves ``running``; None: the job is gone."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            job = self.store.get(job_id)
            if job is None or job.status != m.RUNNING:
                return job.status if job else None
        return m.RUNNING

    # -- retry, delete ------------------------------------------------------------
    def retry(self, job_id: str) -> m.Job | None:
        """Re-queue a failed or cancelled job. Returns the row as re-queued, read before a
        runner can claim it; None when the job is not failed or cancelled."""
        if not self.store.retry(job_id):
            return None
        job = self.store.get(job_id)
        if job is not None:
            self.dispatcher.submit(job.id, job.priority)
        return job

    def delete(self, job: m.Job) -> None:
        """Free everything the job holds and remove it (stop it first: :meth:`cancel`)."""
        control.delete_job(self.store, self.store.get(job.id) or job)
