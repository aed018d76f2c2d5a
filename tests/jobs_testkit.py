"""Tiny workflows and helpers for the job-server tests (registered on import).

- ``test_sleep``: no inputs; ``steps`` progress ticks over ``seconds``, checks cancellation
  every tick, writes a JSON text output. ``fail`` raises a ProcessingError.
- ``test_copy``: one video/image input, copied to the output (for upload/range tests).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

from pydantic import BaseModel, Field

from reelsmith.errors import ProcessingError
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register


class SleepParams(BaseModel):
    seconds: float = Field(0.0, ge=0, le=600, description="total run time")
    steps: int = Field(10, ge=1, le=10000)
    fail: bool = False
    label: str = ""
    marker_dir: str = ""  # when set, each completed run drops one file here (run counting)


@register
class SleepWorkflow(Workflow):
    name = "test_sleep"
    title = "Sleep (tests)"
    inputs = (InputSpec("video", kinds=("video", "image"), required=False),)
    Params = SleepParams

    def output_suffix(self, inputs, params) -> str:  # noqa: ANN001
        return ".json"

    def run(self, ctx, inputs, params, output: Path) -> WorkflowResult:  # noqa: ANN001
        ctx.stage("sleeping", 0.0, 1.0)
        for i in range(params.steps):
            ctx.check()
            time.sleep(params.seconds / params.steps)
            ctx.progress((i + 1) / params.steps, message=f"step {i + 1}/{params.steps}")
        ctx.check()
        if params.fail:
            raise ProcessingError("The test workflow was asked to fail.")
        if params.marker_dir:
            Path(params.marker_dir, f"{params.label}-{os.getpid()}-{time.time_ns()}").touch()
        tmp = output.with_name(".tmp-" + output.name)
        tmp.write_text(json.dumps({"label": params.label, "pid": os.getpid()}))
        os.replace(tmp, output)
        return WorkflowResult(outputs={"report": output},
                              metadata={"backend": "sleep", "pid": os.getpid()})


class CopyParams(BaseModel):
    note: str = ""


@register
class CopyWorkflow(Workflow):
    name = "test_copy"
    inputs = (InputSpec("video", kinds=("video", "image")),)
    Params = CopyParams

    def output_suffix(self, inputs, params) -> str:  # noqa: ANN001
        return Path(inputs["video"]).suffix

    def run(self, ctx, inputs, params, output: Path) -> WorkflowResult:  # noqa: ANN001
        ctx.stage("copying", 0.0, 1.0)
        shutil.copyfile(inputs["video"], output)
        ctx.progress(1.0)
        return WorkflowResult(outputs={"video": output}, metadata={"backend": "copy"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout: float = 30.0, interval: float = 0.05):  # noqa: ANN001
    """Poll ``pred`` until it returns a truthy value (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class ThreadedServer:
    """A real uvicorn server on 127.0.0.1 in a background thread."""

    def __init__(self, app) -> None:  # noqa: ANN001
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                             lifespan="on", ws="websockets-sansio")
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=20)
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.server.should_exit = True
        self.thread.join(timeout=15)


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 recording POSTs; the first ``fail_first`` get 500."""

    def __init__(self, fail_first: int = 0) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict] = []
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": body, "at": time.time()})
                code = 500 if len(outer.requests) <= outer.fail_first else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.httpd.shutdown()
        self.httpd.server_close()
