"""Short-lived, job-scoped link tokens (``rsl_...``) for URLs a browser must carry.

EventSource, WebSocket and ``<a href>`` downloads cannot send an ``Authorization``
header, and an API key in a URL ends up in access logs, proxies and browser history.
``POST /api/v1/jobs/{id}/links`` instead returns a token that:

- works only on that job's read routes (status, result, artifacts, SSE, WebSocket);
- expires after ``link_ttl_s`` (15 minutes by default);
- stops working when the API key that made it is revoked.

A token is ``rsl_<job id>.<key id>.<expiry>.<HMAC-SHA256>``, signed with a server secret
kept in the data dir (``link_secret``, mode 0600; servers sharing a job store should share
the data dir or set the same file).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from pathlib import Path

from reelsmith.config import get_settings

PREFIX = "rsl_"
_lock = threading.Lock()
_cache: dict[Path, bytes] = {}


def _secret() -> bytes:
    path = Path(get_settings().data_dir) / "link_secret"
    with _lock:
        if path in _cache:
            return _cache[path]
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".link_secret.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)  # the first writer wins a race between processes
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        value = path.read_text().strip().encode()
        _cache[path] = value
        return value


def _mac(payload: str) -> str:
    digest = hmac.new(_secret(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def make(job_id: str, key_id: str | None, ttl_s: float | None = None) -> tuple[str, float]:
    """A token for ``job_id`` made by ``key_id`` (None without auth); returns (token, expiry)."""
    expires = int(time.time() + (ttl_s if ttl_s is not None else get_settings().link_ttl_s))
    payload = f"{job_id}.{key_id or '-'}.{expires}"
    return f"{PREFIX}{payload}.{_mac(payload)}", float(expires)


def verify(token: str, job_id: str) -> str | None:
    """The key id the token was made with ('-' without auth), or None when it is not valid
    for ``job_id`` now (forged, expired, or for another job)."""
    if not token.startswith(PREFIX):
        return None
    parts = token[len(PREFIX):].split(".")
    if len(parts) != 4:
        return None
    jid, key_id, expires, mac = parts
    if not hmac.compare_digest(_mac(f"{jid}.{key_id}.{expires}"), mac):
        return None
    if jid != job_id or not expires.isdigit() or int(expires) < time.time():
        return None
    return key_id
