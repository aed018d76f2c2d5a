"""Removing a job and everything it stored: artifacts, work dirs, the uploads made from its
own request (base64, one-call multipart), and copies published outside the data dir."""

from __future__ import annotations

import logging
from pathlib import Path

from reelsmith.jobs import artifacts
from reelsmith.jobs import models as m
from reelsmith.jobs.store import JobStore

log = logging.getLogger(__name__)


def delete_upload(store: JobStore, upload_id: str) -> None:
    """An upload's files, then its row."""
    artifacts.remove_tree(artifacts.upload_dir(upload_id))
    store.delete_upload(upload_id)


def remove_published(job: m.Job) -> None:
    """Copies written outside the data dir (RunPod ``network_volume``)."""
    for path in (job.published or {}).values():
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove published copy of job %s: %s", job.id, exc)


def delete_job(store: JobStore, job: m.Job) -> None:
    """Free everything the job holds, then remove its row (the caller stopped it first)."""
    artifacts.remove_job_files(job.id)
    remove_published(job)
    delete_job_uploads(store, job.id)
    store.delete(job.id)


def delete_job_uploads(store: JobStore, job_id: str) -> None:
    """Remove the uploads that belong to ``job_id`` (their files and rows)."""
    for up in store.job_uploads(job_id):
        delete_upload(store, up.id)
