"""Load on 127.0.0.1: concurrent job submission and concurrent progress subscribers.

Starts ``reelsmith serve`` in a subprocess (fresh data dir), uploads one 64x64 PNG and
submits N upscale jobs at once; reports submit latency (p50/p99), throughput and whether
all completed. Then opens M Server-Sent-Event subscribers at once on running jobs and
reports time to first event and that every subscriber saw the end.

    python benchmarks/server_load.py [--jobs 200] [--subscribers 100] [--server-workers 2]
    python benchmarks/server_load.py --celery 2     # with REELSMITH_BROKER_URL and
                                                     # REELSMITH_DATABASE_URL set: 2 workers
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def png_bytes(size: int = 64) -> bytes:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def start(cmd: list[str], env: dict, url: str | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if url:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                time.sleep(0.2)
        proc.kill()
        raise SystemExit("the server did not start")
    return proc


async def submit_all(url: str, n: int, upload_id: str, params: dict) -> tuple[list[str], list[float], float]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as c:
        async def one(i: int) -> tuple[str, float]:
            t0 = time.perf_counter()
            r = await c.post("/api/v1/jobs", json={"workflow": "upscale", "params": params,
                                                   "inputs": {"video": upload_id}})
            r.raise_for_status()
            return r.json()["id"], time.perf_counter() - t0
        t0 = time.perf_counter()
        res = await asyncio.gather(*(one(i) for i in range(n)))
        return [r[0] for r in res], [r[1] for r in res], time.perf_counter() - t0


async def wait_all(url: str, ids: list[str]) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        while True:
            counts: dict[str, int] = {}
            offset = 0
            while True:
                page = (await c.get(f"/api/v1/jobs?limit=500&offset={offset}")).json()
                for j in page["items"]:
                    if j["id"] in ids:
                        counts[j["status"]] = counts.get(j["status"], 0) + 1
                if page["next_offset"] is None:
                    break
                offset = page["next_offset"]
            if counts.get("queued", 0) + counts.get("running", 0) == 0:
                return counts
            await asyncio.sleep(0.5)


async def subscribers(url: str, job_ids: list[str], m: int) -> tuple[list[float], int]:
    limits = httpx.Limits(max_connections=m + 10)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as c:
        async def one(i: int) -> tuple[float, bool]:
            jid = job_ids[i % len(job_ids)]
            t0 = time.perf_counter()
            first = None
            final = False
            async with c.stream("GET", f"/api/v1/jobs/{jid}/events") as r:
                async for line in r.aiter_lines():
                    if line.startswith("data: "):
                        if first is None:
                            first = time.perf_counter() - t0
                        st = json.loads(line[6:])["status"]
                        final = st in ("completed", "failed", "cancelled")
            return first or float("nan"), final
        res = await asyncio.gather(*(one(i) for i in range(m)))
        return [r[0] for r in res], sum(1 for r in res if r[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--server-workers", type=int, default=2)
    ap.add_argument("--celery", type=int, default=0, help="run N Celery workers instead")
    args = ap.parse_args()

    data = Path(tempfile.mkdtemp(prefix="reelsmith-bench-"))
    env = dict(os.environ, REELSMITH_DATA_DIR=str(data), REELSMITH_RATE_LIMIT_PER_MINUTE="0")
    if not args.celery:
        env.pop("REELSMITH_BROKER_URL", None)
    elif not env.get("REELSMITH_BROKER_URL") or not env.get("REELSMITH_DATABASE_URL"):
        raise SystemExit("--celery needs REELSMITH_BROKER_URL and REELSMITH_DATABASE_URL")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs = [start([sys.executable, "-m", "reelsmith.cli", "serve", "--port", str(port),
                    "--workers", str(args.server_workers), "--log-level", "warning"], env, url)]
    for i in range(args.celery):
        procs.append(start([sys.executable, "-m", "reelsmith.cli", "worker", "--name",
                            f"bench{i}@%h", "--log-level", "warning"], env))
    try:
        up = httpx.post(url + "/api/v1/uploads",
                        files={"file": ("in.png", png_bytes(), "image/png")}).json()
        ids, lat, submit_s = asyncio.run(submit_all(url, args.jobs, up["id"], {"scale": 2}))
        t0 = time.perf_counter()
        counts = asyncio.run(wait_all(url, ids))
        total_s = submit_s + time.perf_counter() - t0
        mode = f"celery x{args.celery}" if args.celery else f"local x{args.server_workers}"
        print(f"\n## {args.jobs} concurrent 64x64 upscale jobs ({mode})\n")
        print("| metric | value |\n| --- | --- |")
        print(f"| submit p50 | {pct(lat, 50) * 1000:.1f} ms |")
        print(f"| submit p99 | {pct(lat, 99) * 1000:.1f} ms |")
        print(f"| all submitted in | {submit_s:.2f} s |")
        print(f"| throughput | {args.jobs / total_s:.1f} jobs/s |")
        print(f"| completed | {counts.get('completed', 0)} / {args.jobs} |")

        n_jobs = max(1, args.subscribers // 10)
        slow = [httpx.post(url + "/api/v1/jobs", json={
            "workflow": "upscale", "params": {"scale": 4},
            "inputs": {"video": up["id"]}}).json()["id"] for _ in range(n_jobs)]
        first, finals = asyncio.run(subscribers(url, slow, args.subscribers))
        print(f"\n## {args.subscribers} concurrent SSE subscribers on {n_jobs} jobs\n")
        print("| metric | value |\n| --- | --- |")
        print(f"| first event p50 | {pct(first, 50) * 1000:.1f} ms |")
        print(f"| first event p99 | {pct(first, 99) * 1000:.1f} ms |")
        print(f"| saw the final state | {finals} / {args.subscribers} |")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
