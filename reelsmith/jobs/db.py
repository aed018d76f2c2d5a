"""Database engine for the job store: SQLite in the data dir, or REELSMITH_DATABASE_URL.

:func:`migrate` brings the schema to the newest Alembic revision; it runs at server and
worker start (and is safe to run concurrently from several processes on PostgreSQL: an
advisory lock serialises it).
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from reelsmith.config import Settings, get_settings

_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def database_url(settings: Settings | None = None) -> str:
    s = settings or get_settings()
    if s.database_url:
        url = s.database_url
        # Plain postgresql:// URLs use psycopg 3 (the one we install), not psycopg2.
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    path = Path(s.data_dir) / "reelsmith.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI objects
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


# Connections the pool keeps open: as many as threads that may hold one at once (the
# server's request thread pool, 40, plus runner and housekeeping threads). A smaller pool
# closes the surplus after every burst and opens it again on the next, which cost more
# than the queries (a PostgreSQL connection is a new server process; an SQLite one reruns
# the pragmas under the database lock). The pool opens connections only when needed.
POOL_SIZE = 48
POOL_OVERFLOW = 32


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                            pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE,
                         max_overflow=POOL_OVERFLOW)


def get_engine(settings: Settings | None = None) -> Engine:
    url = database_url(settings)
    with _lock:
        eng = _engines.get(url)
        if eng is None:
            eng = make_engine(url)
            migrate(eng)
            _engines[url] = eng
        return eng


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision (Alembic, programmatic)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7242011)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def dispose_all() -> None:
    """Close every pooled connection (tests, forks)."""
    with _lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()
