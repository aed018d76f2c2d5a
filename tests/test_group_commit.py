"""Group commit: concurrent job inserts share transactions, and each caller gets its own
outcome (a duplicate id fails only the caller that sent it)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.exc import IntegrityError

from reelsmith.jobs import models as m
from reelsmith.jobs.store import JobStore


def _job(store: JobStore, job_id: str | None = None) -> m.Job:
    return store.create_job(owner="o", workflow="upscale", params={"scale": 2},
                            inputs={"video": {"type": "upload", "upload_id": "0" * 32}},
                            job_id=job_id)


def test_concurrent_inserts_are_all_stored_and_fewer_commits():
    store = JobStore()
    commits = []
    real_write = store._job_inserts._write

    def counting(batch):  # noqa: ANN001
        commits.append(len(batch))
        real_write(batch)

    store._job_inserts._write = counting
    gate = threading.Barrier(32)

    def one(_: int) -> str:
        gate.wait()
        return _job(store).id

    with ThreadPoolExecutor(32) as ex:
        ids = list(ex.map(one, range(32)))
    assert len(set(ids)) == 32
    for jid in ids:
        job = store.get(jid)
        assert job is not None and job.status == m.QUEUED and job.params == {"scale": 2}
    assert sum(commits) == 32 and len(commits) < 32  # some rows shared a transaction


def test_a_bad_row_fails_only_its_caller():
    store = JobStore()
    taken = _job(store).id
    gate = threading.Barrier(9)
    results: dict[int, object] = {}

    def one(i: int) -> None:
        gate.wait()
        try:
            results[i] = _job(store, job_id=taken if i == 0 else None).id
        except IntegrityError as exc:
            results[i] = exc

    with ThreadPoolExecutor(9) as ex:
        list(ex.map(one, range(9)))
    assert isinstance(results[0], IntegrityError)
    for i in range(1, 9):
        assert isinstance(results[i], str) and store.get(results[i]) is not None
    assert store.counts()["queued"] == 9


def test_created_job_reads_back_like_the_returned_one():
    store = JobStore()
    job = _job(store)
    with pytest.raises(IntegrityError):
        _job(store, job_id=job.id)
    got = store.get(job.id)
    assert (got.owner, got.workflow, got.priority, got.inputs) == \
        (job.owner, job.workflow, job.priority, job.inputs)
