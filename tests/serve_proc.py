"""A real ``reelsmith serve`` subprocess for tests: its own session, output to a file (never
a pipe nobody reads), stopped with its whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from jobs_testkit import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent


class ServeProcess:
    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        self.env = dict(os.environ, PYTHONPATH=str(ROOT / "tests"), REELSMITH_DATA_DIR=str(data_dir),
                        **(env or {}))
        self.args = args
        self.proc: subprocess.Popen | None = None

    def cli(self, *argv: str) -> subprocess.CompletedProcess:
        """Run another CLI command against the same data dir."""
        return subprocess.run([sys.executable, "-m", "reelsmith.cli", *argv], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=60)

    def __enter__(self) -> ServeProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child holds it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reelsmith.cli", "serve", "--port", str(self.port), "--workers", "1",
             "--import", "jobs_testkit", "--log-level", "info", *self.args],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(self.log())
            try:
                return httpx.get(self.url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, interval=0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __exit__(self, *exc: object) -> None:
        self.stop()
