"""A full disk answers 507 with a sentence (never 500), and health says degraded until it
recovers. Real SQLite made full with PRAGMA max_page_count; real HTTP on 127.0.0.1."""

from __future__ import annotations

import httpx
import jobs_testkit  # noqa: F401 - registers test_sleep / test_copy
import pytest
from jobs_testkit import ThreadedServer
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from mediagen import make_image
from reelsmith.config import reset_settings
from reelsmith.errors import InsufficientStorage


@pytest.fixture()
def server():
    from reelsmith.jobs.db import dispose_all
    from reelsmith.server.app import create_app

    try:
        with ThreadedServer(create_app(concurrency=1)) as srv:
            yield srv
    finally:
        dispose_all()


def _cap_database_at_current_size(engine) -> None:  # noqa: ANN001
    """Every new connection may not grow the file: inserts needing a new page fail FULL."""

    def cap(dbapi_conn, _record) -> None:  # noqa: ANN001
        cur = dbapi_conn.cursor()
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {int(pages)}")
        cur.close()

    event.listen(engine, "connect", cap)
    engine.dispose()  # pooled connections reconnect with the cap


def test_full_sqlite_database_gives_507_not_500(server):
    from reelsmith.jobs.db import get_engine

    _cap_database_at_current_size(get_engine())
    # A label of 200 kB needs new (overflow) pages: the insert cannot fit.
    r = httpx.post(server.url + "/api/v1/jobs", timeout=30, json={
        "workflow": "test_sleep", "params": {"label": "x" * 200_000}})
    assert r.status_code == 507, r.text
    body = r.json()
    assert body["error"] == "insufficient_storage"
    assert "storage is full" in body["message"] and "Traceback" not in r.text
    # Reads still work and the server stays up.
    assert httpx.get(server.url + "/api/v1/jobs", timeout=10).status_code == 200


def test_low_free_space_makes_health_degraded_and_it_recovers(server, monkeypatch):
    assert httpx.get(server.url + "/api/v1/system/health", timeout=10).json()["status"] == "ok"
    monkeypatch.setenv("REELSMITH_MIN_FREE_BYTES", str(10**18))  # an exabyte: never there
    reset_settings()
    health = httpx.get(server.url + "/api/v1/system/health", timeout=10).json()
    assert health["status"] == "degraded" and health["database"] is True
    assert health["disk"]["ok"] is False and health["disk"]["threshold_bytes"] == 10**18
    assert health["disk"]["free_bytes"] > 0
    monkeypatch.setenv("REELSMITH_MIN_FREE_BYTES", "1")
    reset_settings()
    health = httpx.get(server.url + "/api/v1/system/health", timeout=10).json()
    assert health["status"] == "ok" and health["disk"]["ok"] is True


def test_low_free_space_refuses_new_work_and_recovers(server, monkeypatch, tmp_path):
    png = make_image(tmp_path / "p.png", 32, 32)
    monkeypatch.setenv("REELSMITH_MIN_FREE_BYTES", str(10**18))
    reset_settings()
    job = httpx.post(server.url + "/api/v1/jobs", timeout=30,
                     json={"workflow": "test_sleep", "params": {}})
    assert job.status_code == 507, job.text
    assert job.json()["error"] == "insufficient_storage"
    assert "free" in job.json()["message"] and "required" in job.json()["message"]
    up = httpx.post(server.url + "/api/v1/uploads", timeout=30,
                    files={"file": ("p.png", png.read_bytes(), "image/png")})
    assert up.status_code == 507, up.text
    assert list((tmp_path / "data" / "uploads").glob("*/*")) == []  # nothing was stored

    monkeypatch.setenv("REELSMITH_MIN_FREE_BYTES", "1")
    reset_settings()
    assert httpx.post(server.url + "/api/v1/jobs", timeout=30, json={
        "workflow": "test_sleep", "params": {}}).status_code == 201
    assert httpx.post(server.url + "/api/v1/uploads", timeout=30, files={
        "file": ("p.png", png.read_bytes(), "image/png")}).status_code == 201


def test_check_free_space_sentence(monkeypatch):
    from reelsmith.jobs.diskspace import check_free_space, disk_status, free_bytes

    monkeypatch.setenv("REELSMITH_MIN_FREE_BYTES", str(10**18))
    reset_settings()
    with pytest.raises(InsufficientStorage) as info:
        check_free_space()
    assert info.value.http_status == 507
    assert info.value.message.startswith("The server is low on disk space (")
    monkeypatch.setenv("REELSMITH_MIN_FREE_BYTES", "0")
    reset_settings()
    check_free_space()
    st = disk_status(max_age_s=0)
    assert st["ok"] and st["free_bytes"] == pytest.approx(free_bytes(st["path"]), rel=0.05)


@pytest.mark.parametrize("message", [
    "(sqlite3.OperationalError) database or disk is full",
    "(sqlite3.OperationalError) disk I/O error",
    '(psycopg.errors.DiskFull) could not extend file "base/16384/16385": No space left on device',
])
def test_database_disk_errors_map_to_507(message):
    from reelsmith.server.errors import storage_error

    exc = OperationalError("INSERT INTO jobs ...", {}, Exception(message))
    mapped = storage_error(exc)
    assert mapped is not None and mapped.http_status == 507
    assert storage_error(OperationalError("SELECT 1", {}, Exception("database is locked"))) is None


def test_require_disk_space_dependency_answers_507(monkeypatch):
    """The dependency and the 507 mapping, on a small app of their own."""
    from fastapi import Depends, FastAPI

    from reelsmith.server import errors
    from reelsmith.server.diskguard import require_disk_space

    app = FastAPI()
    errors.install(app)

    @app.post("/work", dependencies=[Depends(require_disk_space)])
    async def work() -> dict:
        return {"ok": True}

    monkeypatch.setenv("REELSMITH_MIN_FREE_BYTES", str(10**18))
    reset_settings()
    with ThreadedServer(app) as srv:
        r = httpx.post(srv.url + "/work", timeout=10)
        assert r.status_code == 507 and r.json()["error"] == "insufficient_storage"
        monkeypatch.setenv("REELSMITH_MIN_FREE_BYTES", "1")
        reset_settings()
        assert httpx.post(srv.url + "/work", timeout=10).json() == {"ok": True}


def test_enospc_from_a_route_is_507():
    import errno

    from fastapi import FastAPI

    from reelsmith.server import errors

    app = FastAPI()
    errors.install(app)

    @app.post("/write")
    async def write() -> dict:
        raise OSError(errno.ENOSPC, "No space left on device")

    @app.post("/other")
    async def other() -> dict:
        raise OSError(errno.EACCES, "Permission denied")

    with ThreadedServer(app) as srv:
        r = httpx.post(srv.url + "/write", timeout=10)
        assert r.status_code == 507 and r.json()["error"] == "insufficient_storage"
        r = httpx.post(srv.url + "/other", timeout=10)
        assert r.status_code == 500 and "Permission" not in r.text
