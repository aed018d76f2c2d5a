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


async def _post_json(host: str, port: int, path: str, body: bytes) -> tuple[int, bytes]:
    """One HTTP/1.1 POST on its own connection with asyncio streams: a client this small
    costs far less CPU than the server it measures (httpx cost more than the server did)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), None)
        data = await (reader.readexactly(length) if length is not None else reader.read())
        return status, data
    finally:
        writer.close()


async def submit_all(url: str, n: int, upload_id: str, params: dict) -> tuple[list[str], list[float], float]:
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"workflow": "upscale", "params": params, "inputs": {"video": upload_id}}).encode()

    async def one(i: int) -> tuple[str, float]:
        t0 = time.perf_counter()
        status, data = await _post_json(host, int(port), "/api/v1/jobs", body)
        if status != 201:
            raise SystemExit(f"submit failed: HTTP {status} {data[:200]!r}")
        return json.loads(data)["id"], time.perf_counter() - t0

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


def listing_latency(n_jobs: int = 1000, rounds: int = 50) -> dict[str, tuple[float, float]]:
    """List ``n_jobs`` queued jobs through a real server that only enqueues (no runner, the
    SQLite store), ``rounds`` times per query; returns {query: (p50 ms, p99 ms)}."""
    import threading

    import uvicorn

    from reelsmith.config import reset_settings
    from reelsmith.jobs.store import JobStore
    from reelsmith.server.app import create_app

    os.environ["REELSMITH_DATA_DIR"] = tempfile.mkdtemp(prefix="reelsmith-bench-list-")
    for name in ("REELSMITH_BROKER_URL", "REELSMITH_DATABASE_URL"):  # SQLite, nothing dispatched
        os.environ.pop(name, None)
    os.environ["REELSMITH_RATE_LIMIT_PER_MINUTE"] = "0"
    reset_settings()
    store = JobStore()
    for i in range(n_jobs):
        store.create_job(owner="local", workflow="upscale", params={"scale": 2, "i": i},
                         inputs={"video": {"type": "upload", "upload_id": "0" * 32}})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(run_jobs=False), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    out = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            for query in ("/api/v1/jobs", "/api/v1/jobs?status=queued", "/api/v1/jobs?limit=500"):
                times = []
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    r = c.get(query)
                    times.append(time.perf_counter() - t0)
                    assert r.status_code == 200 and r.json()["total"] == n_jobs
                out[query] = (pct(times, 50) * 1000, pct(times, 99) * 1000)
    finally:
        server.should_exit = True
        thread.join(10)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--server-workers", type=int, default=2)
    ap.add_argument("--celery", type=int, default=0, help="run N Celery workers instead")
    ap.add_argument("--listing-jobs", type=int, default=1000, help="queued jobs for the listing test")
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
        listing = listing_latency(args.listing_jobs)
        print(f"\n## listing {args.listing_jobs} queued jobs (no runner), 50 requests each\n")
        print("| query | p50 | p99 |\n| --- | --- | --- |")
        for query, (p50, p99) in listing.items():
            print(f"| `{query}` | {p50:.1f} ms | {p99:.1f} ms |")
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
