"""System endpoints: health, version, queue depth, CPU/RAM/GPU for a monitor page."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

from reelsmith.config import get_settings
from reelsmith.jobs.diskspace import disk_status

router = APIRouter(tags=["system"])


def gpu_info() -> list[dict[str, Any]]:
    """Per-GPU stats from NVML (pynvml) or nvidia-smi; empty when there is no NVIDIA GPU."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        out = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            util = pynvml.nvmlDeviceGetUtilizationRates(h)
            name = pynvml.nvmlDeviceGetName(h)
            out.append({"index": i, "name": name.decode() if isinstance(name, bytes) else name,
                        "memory_total_mb": mem.total // 2**20, "memory_used_mb": mem.used // 2**20,
                        "utilization_percent": util.gpu, "source": "nvml"})
        return out
    except Exception:  # noqa: BLE001 - no pynvml or no driver: try nvidia-smi
        pass
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        res = subprocess.run(
            [exe, "--query-gpu=index,name,memory.total,memory.used,utilization.gpu,temperature.gpu",
             "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in res.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 6:
            continue

        def num(v: str) -> float | None:
            try:
                return float(v)
            except ValueError:
                return None

        gpus.append({"index": int(parts[0]), "name": parts[1], "memory_total_mb": num(parts[2]),
                     "memory_used_mb": num(parts[3]), "utilization_percent": num(parts[4]),
                     "temperature_c": num(parts[5]), "source": "nvidia-smi"})
    return gpus


def host_info() -> dict[str, Any]:
    try:
        import psutil

        vm = psutil.virtual_memory()
        return {"cpu_count": os.cpu_count(), "cpu_percent": psutil.cpu_percent(interval=None),
                "load_average": list(os.getloadavg()), "memory_total_mb": vm.total // 2**20,
                "memory_available_mb": vm.available // 2**20, "memory_percent": vm.percent}
    except ImportError:
        info: dict[str, Any] = {"cpu_count": os.cpu_count(), "load_average": list(os.getloadavg())}
        try:
            with open("/proc/meminfo") as fh:
                mem = {k: int(v.split()[0]) for k, v in (ln.split(":", 1) for ln in fh)}
            info["memory_total_mb"] = mem["MemTotal"] // 1024
            info["memory_available_mb"] = mem["MemAvailable"] // 1024
        except (OSError, KeyError, ValueError):
            pass
        return info


@router.get("/api/v1/system/health")
async def health(request: Request) -> dict[str, Any]:
    """Liveness, database reachability and free disk space (no auth: for load balancers).

    ``status`` is ``degraded`` while the database is unreachable or the data dir has less
    free space than ``min_free_bytes`` (new work then gets 507); it recovers by itself.
    """
    st = request.app.state.rs

    def db_ok() -> bool:
        try:
            with st.store.engine.connect() as c:
                c.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001
            return False

    def disk() -> dict[str, Any]:
        try:
            return disk_status()
        except OSError:
            return {"free_bytes": None, "threshold_bytes": get_settings().min_free_bytes,
                    "ok": False}

    ok = await run_in_threadpool(db_ok)
    d = await run_in_threadpool(disk)
    return {"status": "ok" if ok and d["ok"] else "degraded", "database": ok,
            "disk": {"free_bytes": d["free_bytes"], "threshold_bytes": d["threshold_bytes"],
                     "ok": d["ok"]},
            "uptime_s": round(time.time() - st.started_at, 1)}


@router.get("/api/v1/system/version")
async def version() -> dict[str, Any]:
    from reelsmith import __version__
    from reelsmith.workflows import list_workflows

    return {"version": __version__, "python": platform.python_version(),
            "workflows": [w.name for w in list_workflows()]}


@router.get("/api/v1/system/stats")
async def stats(request: Request) -> dict[str, Any]:
    """Queue depth, job counts, workers, CPU/RAM/GPU."""
    from reelsmith.server.auth import owner_for

    owner_for(request)
    st = request.app.state.rs
    counts = await run_in_threadpool(st.store.counts)
    return {"queue_depth": counts["queued"], "jobs": counts,
            "execution": st.dispatcher.mode, "workers": st.dispatcher.workers(),
            "progress_listeners": st.hub.listener_count(),
            "host": await run_in_threadpool(host_info), "gpus": await run_in_threadpool(gpu_info)}
