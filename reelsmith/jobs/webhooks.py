"""Signed webhook delivery with retries; every attempt is recorded on the job.

Each POST carries::

    X-Reelsmith-Event: job.completed | job.failed | job.cancelled
    X-Reelsmith-Timestamp: <unix seconds>
    X-Reelsmith-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

Receivers recompute the HMAC over the raw body (:func:`verify_signature`) and reject old
timestamps. Failed attempts (network error or non-2xx) are retried after
``webhook_backoff_s * 2**(n-1)`` seconds, up to ``webhook_max_attempts``.

URLs are checked like input URLs: only http(s), and hosts on loopback / private / link-local
networks are refused unless ``webhook_allow_private`` is set (or the host is listed in
``url_allow_hosts``), so a webhook cannot be aimed at the server's own network.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reelsmith.config import get_settings
from reelsmith.errors import InputError
from reelsmith.jobs import models as m

log = logging.getLogger(__name__)
_secret_lock = threading.Lock()


def webhook_secret() -> str:
    """The signing key: settings.webhook_secret, else one generated into the data dir."""
    s = get_settings()
    if s.webhook_secret:
        return s.webhook_secret
    path = Path(s.data_dir) / "webhook_secret"
    with _secret_lock:
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        tmp = path.with_name(f".webhook_secret.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
        try:
            os.link(tmp, path)  # first writer wins; another process may have raced us
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        return path.read_text().strip()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str,
                     tolerance_s: float = 300.0) -> bool:
    try:
        if abs(time.time() - float(timestamp)) > tolerance_s:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def _host_allowed(host: str) -> bool:
    s = get_settings()
    if s.webhook_allow_private or s.url_allow_private:
        return True
    allowed = set(s.url_allow_hosts)
    if host in allowed:
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        raise InputError(f"The webhook host {host!r} cannot be resolved.") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if any(ip in ipaddress.ip_network(c, strict=False) for c in allowed if "/" in c):
            continue
        if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
                or ip.is_multicast or ip.is_unspecified):
            return False
    return True


def check_url(url: str) -> str:
    """Validate a webhook URL; raises InputError with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"The webhook URL {url!r} must be an http:// or https:// URL.")
    if not _host_allowed(parts.hostname):
        raise InputError(
            f"The webhook URL {url!r} points at a loopback or private address, which is refused "
            "(set REELSMITH_WEBHOOK_ALLOW_PRIVATE=1 to allow it).")
    return url


def payload_for(job: m.Job) -> dict[str, Any]:
    from reelsmith.jobs.views import job_result_url, runpod_status

    if job.kind == m.KIND_RUNPOD:
        return runpod_status(job)
    meta = (job.result or {}).get("metadata", {}) or {}
    payload = {
        "event": f"job.{job.status}",
        "job_id": job.id,
        "status": job.status,
        "workflow": job.workflow,
        "result_url": job_result_url(job) if job.status == m.COMPLETED else None,
        "error": job.error,
        "error_code": job.error_code,
        "metadata": meta,
        "outputs": (job.result or {}).get("outputs", {}),
        "attempts": job.attempts,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        # Workflows that describe their own outcome (highlights: the EchoFusion worker shape).
        "message": meta.get("message") or job.error or f"{job.workflow} {job.status}",
    }
    if "processing_method" in meta:
        payload["processing_method"] = meta["processing_method"]
    return payload


def deliver(store, job: m.Job, url: str) -> bool:  # noqa: ANN001 - JobStore
    """POST the job's outcome to ``url`` with retries; records each attempt."""
    import httpx

    s = get_settings()
    body = json.dumps(payload_for(job), separators=(",", ":"), default=str).encode()
    secret = webhook_secret()
    event = f"job.{job.status}"
    for attempt in range(1, max(1, s.webhook_max_attempts) + 1):
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "reelsmith-webhook",
            "X-Reelsmith-Event": event,
            "X-Reelsmith-Job": job.id,
            "X-Reelsmith-Delivery": f"{job.id}-{attempt}",
            "X-Reelsmith-Timestamp": ts,
            "X-Reelsmith-Signature": sign(secret, ts, body),
        }
        code: int | None = None
        err: str | None = None
        try:
            check_url(url)
            with httpx.Client(timeout=s.webhook_timeout_s, follow_redirects=False) as client:
                resp = client.post(url, content=body, headers=headers)
            code = resp.status_code
            if not 200 <= code < 300:
                err = f"The receiver answered HTTP {code}."
        except InputError as exc:
            err = exc.message
            store.record_delivery(job.id, url, event, attempt, False, None, err)
            return False  # refused URL: retrying would not help
        except Exception as exc:  # noqa: BLE001 - network trouble of any kind: retry
            err = f"{type(exc).__name__}: {exc}"
        ok = err is None
        store.record_delivery(job.id, url, event, attempt, ok, code, err)
        if ok:
            return True
        if attempt < s.webhook_max_attempts:
            time.sleep(s.webhook_backoff_s * 2 ** (attempt - 1))
    log.warning("webhook to %s for job %s failed after %d attempts", url, job.id, attempt)
    return False


def dispatch(store, job_id: str, *, wait: bool = False) -> list[threading.Thread]:  # noqa: ANN001
    """Deliver the finished job to its own webhook and the global one (background threads)."""
    job = store.get(job_id)
    if job is None or job.status not in m.FINISHED:
        return []
    urls = [u for u in (job.webhook_url, get_settings().webhook_url) if u]
    threads = []
    for url in dict.fromkeys(urls):
        t = threading.Thread(target=deliver, args=(store, job, url), daemon=True,
                             name=f"webhook-{job.id[:8]}")
        t.start()
        threads.append(t)
    if wait:
        for t in threads:
            t.join()
    return threads
