"""Telling the world a job reached a final state (completed, failed, cancelled).

Two audiences: in-process progress listeners (SSE, WebSocket) get the final job state
through a ``publish`` callback (the server's :class:`~reelsmith.jobs.events.ProgressHub`),
and the job's webhook, if it has one, is sent (signed, retried; see
:mod:`reelsmith.jobs.webhooks`). Every place a job ends calls :func:`job_finished`: the
executor, a cancel of a queued job, and the recovery of jobs whose worker died.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reelsmith.jobs import models as m
from reelsmith.jobs import webhooks
from reelsmith.jobs.events import job_state
from reelsmith.jobs.store import JobStore

Publish = Callable[[dict[str, Any]], None]


def job_finished(store: JobStore, job_id: str, *, publish: Publish | None = None,
                 send_webhooks: bool = True) -> m.Job | None:
    """Announce the job's final state as stored; returns that row (None: it is gone)."""
    final = store.get(job_id)
    if final is None:
        return None
    if publish:
        publish(job_state(final))
    if send_webhooks:
        webhooks.dispatch(store, final)
    return final
