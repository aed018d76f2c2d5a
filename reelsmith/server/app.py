"""The FastAPI application: ``create_app()``; ``reelsmith serve`` runs it on uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from reelsmith import __version__
from reelsmith.config import get_settings
from reelsmith.jobs.dispatchers import CeleryDispatcher, Dispatcher, EnqueueOnly, LocalDispatcher
from reelsmith.jobs.events import ProgressHub
from reelsmith.jobs.runner import LocalRunner
from reelsmith.jobs.store import JobStore
from reelsmith.server import api_v1, docs, errors, metrics, progress, runpod_api, secrets_api, system
from reelsmith.server.guard import RequestGuard
from reelsmith.server.state import RateLimiter, ServerState

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def create_app(*, concurrency: int | None = None, local_only: bool = True,
               dispatcher: Dispatcher | None = None, run_jobs: bool = True,
               bind_host: str | None = "127.0.0.1", insecure: bool = False) -> FastAPI:
    """Build the app. The job store, progress hub and runner start with the app's lifespan.

    ``local_only``: the server is bound to loopback: it answers only to loopback host names
    (plus ``allowed_hosts``), and without keys it serves a single local user.
    ``bind_host``: the address served on (a host name the server answers to).
    ``insecure``: bound beyond loopback without keys, on purpose (``serve --insecure``).
    ``run_jobs=False``: enqueue only (another process runs the jobs).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        s = get_settings()
        store = JobStore()
        hub = ProgressHub()
        disp = dispatcher
        if disp is None:
            if s.broker_url:
                disp = CeleryDispatcher(store)
            elif run_jobs:
                disp = LocalDispatcher(LocalRunner(store, hub, concurrency))
            else:
                disp = EnqueueOnly()
        app.state.rs = ServerState(store=store, hub=hub, dispatcher=disp,
                                   limiter=RateLimiter(s.rate_limit_per_minute),
                                   local_only=local_only, insecure=insecure)
        await asyncio.to_thread(disp.start)
        try:
            yield
        finally:
            await asyncio.to_thread(disp.stop)

    app = FastAPI(title="reelsmith", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="AI video and photo jobs: upscale, interpolate and more. "
                              "REST under /api/v1, progress over SSE/WebSocket, "
                              "RunPod-compatible API under /v2.")
    errors.install(app)
    app.add_middleware(RequestGuard, bind_host=bind_host, check_host=local_only)
    app.include_router(api_v1.router)
    app.include_router(progress.router)
    app.include_router(runpod_api.router)
    app.include_router(system.router)
    app.include_router(secrets_api.router)
    app.include_router(metrics.router)
    app.include_router(docs.router)  # /docs, /redoc without a CDN

    @app.get("/health", include_in_schema=False)
    async def _health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    async def _root() -> RedirectResponse:
        return RedirectResponse("/studio/")

    @app.get("/studio/", include_in_schema=False)
    async def _studio() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
