"""The request guard: one ASGI layer in front of every route.

It refuses, before any route code runs:

- **a Host the server does not answer to** (421). A page on ``evil.example`` whose DNS
  name is re-bound to 127.0.0.1 reaches a loopback server with ``Host: evil.example``;
  only loopback names, the bind address, ``public_url``'s host and ``allowed_hosts`` pass.
- **cross-site writes** (403): a write or WebSocket handshake whose ``Origin`` is not the
  server's own (or in ``allowed_origins``), or that a browser marks ``Sec-Fetch-Site:
  cross-site``.
- **bodies of a type a plain HTML form can send** (415): bodies must be JSON, or multipart
  on the routes that take files. ``text/plain`` and url-encoded bodies need no CORS
  preflight, so a web page could otherwise drive the API.
- **browser multipart without a key or the studio's header** (403): a browser request
  (it carries ``Origin`` or ``Sec-Fetch-*``) sending files needs ``Authorization`` or
  ``X-Reelsmith-Request``, which a cross-site form cannot add.
- **oversized bodies** (413): the declared ``Content-Length`` is checked first, then bytes
  are counted as they arrive, so a chunked body is cut off at the limit instead of being
  read into memory. JSON bodies have their own, smaller limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from reelsmith.config import get_settings
from reelsmith.errors import LimitExceededError
from reelsmith.inputs import format_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Routes that take multipart/form-data (files in the request).
MULTIPART_ROUTES = ("/api/v1/uploads", "/api/v1/jobs")
MULTIPART_SLACK = 1024 * 1024  # form fields and part headers around the file bytes


def _host_only(value: str) -> str:
    """``example.com:8000`` -> ``example.com``; ``[::1]:8000`` -> ``::1``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def _origin_of(url: str) -> str:
    parts = urlsplit(url.strip().lower())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class RequestGuard:
    """ASGI middleware; see the module docstring. ``bind_host`` is the address served on."""

    def __init__(self, app: ASGIApp, *, bind_host: str | None, check_host: bool) -> None:
        self.app = app
        s = get_settings()
        self.check_host = check_host and "*" not in s.allowed_hosts
        hosts = set(LOOPBACK_NAMES) | {_host_only(h) for h in s.allowed_hosts}
        if bind_host:
            hosts.add(_host_only(bind_host))
        if s.public_url:
            hosts.add(_host_only(urlsplit(s.public_url).netloc))
        self.hosts = frozenset(hosts)
        self.origins = frozenset(o for o in (_origin_of(u) for u in (*s.allowed_origins, s.public_url))
                                 if o)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, code, message = refusal
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4000 + status, "reason": message[:120]})
            else:
                await _send_json(send, status, {"error": code, "message": message})
            return
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            limit = self._body_limit(headers)
            message = self._limit_message(limit, scope["path"])
            declared = headers.get("content-length", "")
            if limit and declared.isdigit() and int(declared) > limit:
                await _send_json(send, 413, {"error": "limit_exceeded", "message": message})
                return
            receive = _counting(receive, limit, message)
        await self.app(scope, receive, send)

    # -- checks -----------------------------------------------------------------------
    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        host = _host_only(headers.get("host", ""))
        if self.check_host and host not in self.hosts:
            return (421, "misdirected_request",
                    f"This server does not answer to the host name {host[:100]!r}; add it to "
                    "REELSMITH_ALLOWED_HOSTS if it is yours.")
        write = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
        if not write:
            return None
        origin = headers.get("origin")
        own = f"{'https' if scope.get('scheme') in ('https', 'wss') else 'http'}://{headers.get('host', '')}"
        if origin is not None and origin.lower() != own.lower() and _origin_of(origin) not in self.origins:
            return (403, "cross_origin",
                    f"Requests from pages on {origin[:100]!r} are refused; add the origin to "
                    "REELSMITH_ALLOWED_ORIGINS if it should be allowed.")
        if headers.get("sec-fetch-site") == "cross-site" and (
                origin is None or _origin_of(origin) not in self.origins):
            return (403, "cross_origin", "Cross-site requests from browsers are refused.")
        if scope["type"] == "websocket":
            return None
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        has_body = headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
        if not has_body and not ctype:
            return None
        if ctype == "application/json" or ctype.endswith("+json"):
            return None
        if ctype == "multipart/form-data" and scope["path"].rstrip("/") in MULTIPART_ROUTES:
            browser = "origin" in headers or any(k.startswith("sec-fetch-") for k in headers)
            if browser and "authorization" not in headers and "x-reelsmith-request" not in headers:
                return (403, "cross_origin",
                        "File uploads from a browser need an API key or the 'X-Reelsmith-Request' header.")
            return None
        allowed = "application/json" + (" or multipart/form-data" if scope["path"].rstrip("/")
                                        in MULTIPART_ROUTES else "")
        return (415, "unsupported_media_type",
                f"The request body must be {allowed}, not {ctype or 'untyped data'!r}.")

    @staticmethod
    def _body_limit(headers: dict[str, str]) -> int:
        s = get_settings()
        ctype = headers.get("content-type", "").lower()
        if ctype.startswith("multipart/form-data"):
            return s.max_input_bytes + MULTIPART_SLACK if s.max_input_bytes else 0
        return s.max_json_bytes

    @staticmethod
    def _limit_message(limit: int, path: str) -> str:
        hint = (" Send large files as an upload (POST /api/v1/uploads) or as a URL."
                if not path.startswith("/api/v1/uploads") else "")
        return f"The request body is larger than the {format_bytes(limit)} limit.{hint}"


def _counting(receive: Receive, limit: int, message: str) -> Receive:
    """Wrap ``receive`` so that more than ``limit`` body bytes raise LimitExceededError."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        msg = await receive()
        if limit and msg["type"] == "http.request":
            seen += len(msg.get("body", b""))
            if seen > limit:
                raise LimitExceededError(message)
        return msg

    return wrapped


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})

