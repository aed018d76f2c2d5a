"""Live progress over SSE and WebSocket on a real uvicorn server."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from jobs_testkit import ThreadedServer, wait_for

KEYS = {"job_id", "status", "stage", "progress", "message", "eta_seconds"}


@pytest.fixture()
def server():
    from reelsmith.server.app import create_app

    with ThreadedServer(create_app(concurrency=2)) as srv:
        yield srv


def _sse_states(url: str) -> list[dict]:
    states = []
    with httpx.stream("GET", url, timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                states.append(json.loads(line[6:]))
    return states


def test_sse_streams_progress_until_done(server):
    job = httpx.post(server.url + "/api/v1/jobs", json={
        "workflow": "test_sleep", "params": {"seconds": 1.5, "steps": 15}}).json()
    states = _sse_states(f"{server.url}/api/v1/jobs/{job['id']}/events")
    assert all(set(s) == KEYS for s in states)
    assert states[-1]["status"] == "completed" and states[-1]["progress"] == 1.0
    running = [s for s in states if s["status"] == "running"]
    assert len(running) >= 3
    progress = [s["progress"] for s in running]
    assert progress == sorted(progress)
    assert any(s["eta_seconds"] is not None for s in running)
    assert any(s["stage"] == "sleeping" and s["message"].startswith("step") for s in running)


def test_late_subscriber_gets_current_state_first(server):
    job = httpx.post(server.url + "/api/v1/jobs", json={
        "workflow": "test_sleep", "params": {"seconds": 0.1}}).json()
    wait_for(lambda: httpx.get(f"{server.url}/api/v1/jobs/{job['id']}").json()["status"]
             == "completed")
    states = _sse_states(f"{server.url}/api/v1/jobs/{job['id']}/events")
    assert len(states) == 1 and states[0]["status"] == "completed"

    job = httpx.post(server.url + "/api/v1/jobs", json={
        "workflow": "test_sleep", "params": {"seconds": 2.0, "steps": 20}}).json()
    wait_for(lambda: httpx.get(f"{server.url}/api/v1/jobs/{job['id']}").json()["progress"] > 0.2)
    states = _sse_states(f"{server.url}/api/v1/jobs/{job['id']}/events")
    assert states[0]["status"] == "running" and states[0]["progress"] > 0.2


def test_websocket_progress_and_cancel(server):
    job = httpx.post(server.url + "/api/v1/jobs", json={
        "workflow": "test_sleep", "params": {"seconds": 30, "steps": 300}}).json()
    ws_url = server.url.replace("http", "ws") + f"/ws/jobs/{job['id']}"

    async def watch() -> list[dict]:
        got = []
        cancelled = False
        async with websockets.connect(ws_url) as ws:
            async for raw in ws:
                msg = json.loads(raw)
                got.append(msg)
                if msg["status"] == "running" and msg["progress"] > 0.01 and not cancelled:
                    cancelled = True
                    await asyncio.to_thread(
                        httpx.post, f"{server.url}/api/v1/jobs/{job['id']}/cancel")
        return got

    got = asyncio.run(watch())
    assert set(got[0]) == KEYS
    assert got[-1]["status"] == "cancelled"
    assert got[-1]["progress"] < 0.5


def test_websocket_unknown_job_is_refused(server):
    async def go():
        url = server.url.replace("http", "ws") + "/ws/jobs/" + "a" * 32
        with pytest.raises(websockets.exceptions.InvalidStatus):
            async with websockets.connect(url) as ws:
                await ws.recv()

    asyncio.run(go())
