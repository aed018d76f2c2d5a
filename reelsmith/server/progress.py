"""Live progress: Server-Sent Events and WebSocket, same messages.

``{job_id, status, stage, progress, message, eta_seconds}``, with ``done``/``total`` when the
stage counts units (frames, denoising steps) and ``preview`` (a small JPEG data URI) when a
generative step publishes one (live events only: previews are not stored). The current state is sent
first (so a late subscriber is never blind), then every change until the job finishes.
Changes come from the in-process hub (local runner) and, for jobs run by other processes,
from polling the job table once a second.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from reelsmith.jobs import artifacts
from reelsmith.jobs import models as m
from reelsmith.jobs.events import job_state
from reelsmith.server.auth import owner_for, require_job_reader
from reelsmith.server.errors import ApiError

router = APIRouter()
TERMINAL = set(m.FINISHED)


def _key(state: dict[str, Any]) -> tuple:
    return (state["status"], state["stage"], state["progress"], state["message"],
            state.get("preview"))


async def job_updates(st, job_id: str, poll_s: float = 1.0) -> AsyncIterator[dict[str, Any]]:  # noqa: ANN001
    """Yield the current state, then each change, ending after a terminal state."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)

    def on_state(state: dict[str, Any]) -> None:
        def put() -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(state)
        loop.call_soon_threadsafe(put)

    unsubscribe = st.hub.subscribe(job_id, on_state)
    try:
        job = await run_in_threadpool(st.store.get, job_id)
        if job is None:
            return
        current = job_state(job)
        live = st.hub.last(job_id)
        if job.status == m.RUNNING and live and live["status"] == m.RUNNING:
            current = live
        yield current
        last = _key(current)
        if current["status"] in TERMINAL:
            return
        while True:
            try:
                state = await asyncio.wait_for(queue.get(), timeout=poll_s)
            except TimeoutError:
                job = await run_in_threadpool(st.store.get, job_id)
                if job is None:
                    return
                state = job_state(job)
                if job.status == m.RUNNING:
                    continue_live = st.hub.last(job_id)
                    if continue_live and continue_live["status"] == m.RUNNING:
                        state = continue_live
            if _key(state) == last:
                continue
            last = _key(state)
            yield state
            if state["status"] in TERMINAL:
                return
    finally:
        unsubscribe()


def _check_job(st, job_id: str, owner: str) -> None:  # noqa: ANN001
    job = st.store.get(job_id, owner) if artifacts.valid_id(job_id) else None
    if job is None:
        raise ApiError(404, "not_found", f"There is no job with id {job_id!r}.")


@router.get("/api/v1/jobs/{job_id}/events", tags=["progress"])
async def sse(job_id: str, request: Request, owner: str = Depends(require_job_reader)):  # noqa: ANN201
    """Server-Sent Events: one ``progress`` event per change; the stream ends when the job does."""
    st = request.app.state.rs
    _check_job(st, job_id, owner)

    async def gen() -> AsyncIterator[bytes]:
        n = 0
        yield b"retry: 2000\n\n"
        async for state in job_updates(st, job_id):
            n += 1
            yield f"id: {n}\nevent: progress\ndata: {json.dumps(state)}\n\n".encode()

    return StreamingResponse(gen(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.websocket("/ws/jobs/{job_id}")
async def ws(websocket: WebSocket, job_id: str) -> None:
    """WebSocket: JSON messages as for SSE; closes with code 1000 when the job finishes.

    Auth: ``Authorization: Bearer`` header, or a link token ``?access=rsl_...`` from
    ``POST /api/v1/jobs/{id}/links`` (browsers cannot set headers on WebSockets)."""
    st = websocket.app.state.rs
    try:
        owner = owner_for(websocket, job_id)
        _check_job(st, job_id, owner)
    except ApiError as exc:
        await websocket.close(code=4000 + exc.status, reason=exc.message[:120])
        return
    await websocket.accept()
    try:
        async for state in job_updates(st, job_id):
            await websocket.send_json(state)
        await websocket.close(code=1000)
    except (WebSocketDisconnect, RuntimeError):
        pass
