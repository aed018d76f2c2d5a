"""API keys (``Authorization: Bearer rsk_...``), ownership and per-key rate limits.

Whether keys are required is decided when the server starts (see
:meth:`ServerState.auth_enabled`); without auth every caller is the single owner
``local``. Keys are stored as SHA-256 hashes. API keys are never accepted in a URL: the
job read routes take a short-lived link token instead (``?access=rsl_...``, see
:mod:`reelsmith.server.links`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, WebSocket

from reelsmith.server import links
from reelsmith.server.errors import ApiError

LOCAL_OWNER = "local"


@dataclass(frozen=True)
class Caller:
    owner: str
    key_id: str | None  # None without auth


def _state(conn: Request | WebSocket):  # noqa: ANN202
    return conn.app.state.rs


def _bearer(conn: Request | WebSocket) -> str | None:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _link_caller(conn: Request | WebSocket, token: str, job_id: str | None) -> Caller:
    st = _state(conn)
    key_id = links.verify(token, job_id) if job_id else None
    if key_id is None:
        raise ApiError(401, "unauthorized", "The link token is not valid for this address, or it "
                       "expired; ask POST /api/v1/jobs/{id}/links for a new one.")
    if key_id == "-":
        if st.auth_enabled():  # made before auth was turned on
            raise ApiError(401, "unauthorized", "The link token was made without an API key, and "
                           "this server now requires one.")
        return Caller(LOCAL_OWNER, None)
    key = st.store.active_key(key_id)
    if key is None:
        raise ApiError(401, "unauthorized", "The API key that made this link was revoked.")
    return Caller(key.owner, key.id)


def caller_for(conn: Request | WebSocket, job_id: str | None = None) -> Caller:
    """Who is calling; raises 401/429 as ApiError. ``job_id``: the route reads that job, so
    a link token for it is accepted."""
    st = _state(conn)
    if conn.query_params.get("token"):
        raise ApiError(401, "unauthorized",
                       "API keys are not accepted in URLs (they end up in logs and browser history); "
                       "send 'Authorization: Bearer <key>', or use a link token from "
                       "POST /api/v1/jobs/{id}/links.")
    access = conn.query_params.get("access")
    if access:
        who = _link_caller(conn, access, job_id)
        rate_key = f"key:{who.key_id}" if who.key_id else f"addr:{conn.client.host if conn.client else '?'}"
    elif st.auth_enabled():
        token = _bearer(conn)
        if not token:
            raise ApiError(401, "unauthorized",
                           "This server requires an API key: send 'Authorization: Bearer <key>'.")
        key = st.store.lookup_key(token)
        if key is None:
            raise ApiError(401, "unauthorized", "The API key is not valid or was revoked.")
        who, rate_key = Caller(key.owner, key.id), f"key:{key.id}"
    else:
        who = Caller(LOCAL_OWNER, None)
        rate_key = f"addr:{conn.client.host if conn.client else '?'}"
    wait = st.limiter.take(rate_key)
    if wait > 0:
        raise ApiError(429, "rate_limited",
                       f"Too many requests; try again in {wait:.1f} s.",
                       headers={"Retry-After": str(max(1, int(wait + 0.999)))})
    return who


def owner_for(conn: Request | WebSocket, job_id: str | None = None) -> str:
    return caller_for(conn, job_id).owner


async def require_owner(request: Request) -> str:
    return owner_for(request)


async def require_caller(request: Request) -> Caller:
    return caller_for(request)


async def require_job_reader(job_id: str, request: Request) -> str:
    """For a job's read routes: an API key, or a link token made for this job."""
    return owner_for(request, job_id)
