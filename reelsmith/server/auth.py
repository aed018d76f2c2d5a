"""API keys (``Authorization: Bearer rsk_...``), ownership and per-key rate limits.

Auth is on as soon as one API key exists (or ``REELSMITH_REQUIRE_AUTH=1``). Without it
every caller is the single owner ``local``. Keys are stored as SHA-256 hashes.
"""

from __future__ import annotations

from fastapi import Request, WebSocket

from reelsmith.server.errors import ApiError

LOCAL_OWNER = "local"


def _state(conn: Request | WebSocket):  # noqa: ANN202
    return conn.app.state.rs


def _token(conn: Request | WebSocket) -> str | None:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    token = conn.query_params.get("token")  # browsers cannot set headers on WebSockets
    return token or None


def owner_for(conn: Request | WebSocket) -> str:
    """The caller's owner id; raises 401/429 as ApiError."""
    st = _state(conn)
    if st.auth_enabled():
        token = _token(conn)
        if not token:
            raise ApiError(401, "unauthorized",
                           "This server requires an API key: send 'Authorization: Bearer <key>'.")
        key = st.store.lookup_key(token)
        if key is None:
            raise ApiError(401, "unauthorized", "The API key is not valid or was revoked.")
        who, owner = f"key:{key.id}", key.owner
    else:
        who = f"addr:{conn.client.host if conn.client else '?'}"
        owner = LOCAL_OWNER
    wait = st.limiter.take(who)
    if wait > 0:
        raise ApiError(429, "rate_limited",
                       f"Too many requests; try again in {wait:.1f} s.",
                       headers={"Retry-After": str(max(1, int(wait + 0.999)))})
    return owner


async def require_owner(request: Request) -> str:
    return owner_for(request)


