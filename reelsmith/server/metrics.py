"""``GET /metrics``: Prometheus text exposition (format 0.0.4) for the job server.

* ``reelsmith_jobs{status}`` gauge: jobs in the store per status;
* ``reelsmith_queue_depth`` gauge: queued jobs;
* ``reelsmith_job_seconds`` histogram: run time of finished jobs (started -> finished);
* ``reelsmith_bytes_stored`` gauge: bytes under the data dir's artifacts/ and uploads/
  (walked at most every :data:`BYTES_TTL_S` seconds);
* ``reelsmith_uptime_seconds`` gauge and ``reelsmith_build_info{version} 1``.

The numbers are server-wide; when auth is on the endpoint still requires an API key.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from reelsmith import __version__
from reelsmith.config import get_settings
from reelsmith.jobs import models as m
from reelsmith.server.auth import require_owner

router = APIRouter(tags=["system"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 7200.0)
BYTES_TTL_S = 30.0

_bytes_lock = threading.Lock()
_bytes_cache: dict[str, tuple[float, int]] = {}  # data dir -> (computed at, bytes)


def _tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:  # removed while we walked
                pass
    return total


def bytes_stored(now: float | None = None) -> int:
    """Size of artifacts/ + uploads/ in the data dir, recomputed at most every 30 s."""
    data = Path(get_settings().data_dir)
    now = time.monotonic() if now is None else now
    key = str(data)
    with _bytes_lock:
        hit = _bytes_cache.get(key)
        if hit is not None and now - hit[0] < BYTES_TTL_S:
            return hit[1]
        value = sum(_tree_bytes(data / sub) for sub in ("artifacts", "uploads"))
        _bytes_cache[key] = (now, value)
        return value


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(counts: dict[str, int], hist: tuple[list[int], int, float], stored: int,
           uptime: float) -> str:
    """The exposition text for the given numbers."""
    lines = ["# HELP reelsmith_jobs Jobs in the store by status.", "# TYPE reelsmith_jobs gauge"]
    lines += [f'reelsmith_jobs{{status="{_label(st)}"}} {n}' for st, n in sorted(counts.items())]
    lines += ["# HELP reelsmith_queue_depth Jobs waiting to run.", "# TYPE reelsmith_queue_depth gauge",
              f"reelsmith_queue_depth {counts.get(m.QUEUED, 0)}"]
    cumulative, count, total = hist
    lines += ["# HELP reelsmith_job_seconds Run time of finished jobs, from start to finish.",
              "# TYPE reelsmith_job_seconds histogram"]
    lines += [f'reelsmith_job_seconds_bucket{{le="{_num(b)}"}} {c}'
              for b, c in zip(BUCKETS, cumulative, strict=True)]
    lines += [f'reelsmith_job_seconds_bucket{{le="+Inf"}} {count}',
              f"reelsmith_job_seconds_sum {_num(round(total, 3))}", f"reelsmith_job_seconds_count {count}"]
    lines += ["# HELP reelsmith_bytes_stored Bytes of artifacts and uploads in the data dir.",
              "# TYPE reelsmith_bytes_stored gauge", f"reelsmith_bytes_stored {stored}",
              "# HELP reelsmith_uptime_seconds Seconds since the server started.",
              "# TYPE reelsmith_uptime_seconds gauge", f"reelsmith_uptime_seconds {_num(round(uptime, 3))}",
              "# HELP reelsmith_build_info The running reelsmith version.",
              "# TYPE reelsmith_build_info gauge", f'reelsmith_build_info{{version="{_label(__version__)}"}} 1']
    return "\n".join(lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(require_owner)])
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus metrics (requires an API key when auth is on)."""
    st = request.app.state.rs

    def collect() -> str:
        return render(st.store.counts(), st.store.duration_histogram(BUCKETS), bytes_stored(),
                      time.time() - st.started_at)

    return PlainTextResponse(await run_in_threadpool(collect), media_type=CONTENT_TYPE)
