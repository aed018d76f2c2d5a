"""Real Redis and PostgreSQL for the scale-out tests.

Uses REELSMITH_TEST_REDIS_URL / REELSMITH_TEST_DATABASE_URL when set (CI starts the
services); otherwise starts private instances from the Debian binaries on free ports in a
temp dir; skips with a reason when neither is possible.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from jobs_testkit import free_port, wait_for

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _pg_bin(name: str) -> str | None:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if not runuser:
        pytest.skip("running as root and runuser is missing: cannot start PostgreSQL")
    return [runuser, "-u", "postgres", "--", *cmd]


class Services:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[subprocess.Popen] = []
        self.pg_dir: Path | None = None
        self.redis_url = os.environ.get("REELSMITH_TEST_REDIS_URL", "")
        self.pg_url = os.environ.get("REELSMITH_TEST_DATABASE_URL", "")

    def start(self) -> None:
        if not self.redis_url:
            exe = shutil.which("redis-server")
            if not exe:
                pytest.skip("redis-server is not installed (apt-get install redis-server) and "
                            "REELSMITH_TEST_REDIS_URL is not set")
            port = free_port()
            self.procs.append(subprocess.Popen(
                [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.root)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.redis_url = f"redis://127.0.0.1:{port}/0"
            import redis

            wait_for(lambda: _redis_ok(redis, self.redis_url), timeout=20, interval=0.1)
        if not self.pg_url:
            initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
            if not initdb or not pg_ctl:
                pytest.skip("PostgreSQL is not installed (apt-get install postgresql) and "
                            "REELSMITH_TEST_DATABASE_URL is not set")
            d = Path(f"/tmp/reelsmith-pg-{uuid.uuid4().hex[:8]}")
            d.mkdir()
            if os.geteuid() == 0:
                shutil.chown(d, "postgres", "postgres")
            self.pg_dir = d
            subprocess.run(_as_postgres([initdb, "-D", str(d / "data"), "-A", "trust", "-U",
                                         "postgres"]), check=True, capture_output=True)
            port = free_port()
            subprocess.run(_as_postgres([
                pg_ctl, "-D", str(d / "data"), "-l", str(d / "log"), "-w", "-o",
                f"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=200", "start"]), check=True, capture_output=True)
            self.pg_url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def fresh_database(self) -> str:
        """A new empty database on the server; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        base = self.pg_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return base.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if self.pg_dir is not None:
            pg_ctl = _pg_bin("pg_ctl")
            subprocess.run(_as_postgres([pg_ctl, "-D", str(self.pg_dir / "data"), "-m", "immediate",
                                         "stop"]), capture_output=True)
            shutil.rmtree(self.pg_dir, ignore_errors=True)


def _redis_ok(redis, url: str) -> bool:  # noqa: ANN001
    try:
        return bool(redis.Redis.from_url(url).ping())
    except Exception:  # noqa: BLE001
        time.sleep(0.05)
        return False


class CeleryWorker:
    """A real ``reelsmith worker`` subprocess; ``ready`` is set once Celery says so.

    Its stderr is read by a thread (never left to fill a pipe); stopping is bounded."""

    def __init__(self, name: str, env: dict[str, str], concurrency: int = 1) -> None:
        import subprocess
        import sys
        import threading

        root = Path(__file__).resolve().parent.parent
        self.name = name
        self.ready = threading.Event()
        self.log: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reelsmith.cli", "worker", "--concurrency", str(concurrency), "--name",
             f"{name}@%h", "--import", "jobs_testkit", "--log-level", "info"],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line)
            if " ready." in line:
                self.ready.set()

    def wait_ready(self, timeout: float = 60) -> None:
        if not self.ready.wait(timeout):
            self.stop()
            pytest.fail(f"worker {self.name} did not start:\n" + "".join(self.log[-30:]))

    def __enter__(self) -> CeleryWorker:
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
