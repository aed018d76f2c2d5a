"""Signed webhook delivery with retries; every attempt is recorded on the job.

Each POST carries::

    X-Reelsmith-Event: job.completed | job.failed | job.cancelled
    X-Reelsmith-Timestamp: <unix seconds>
    X-Reelsmith-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>[,sha256=<...>]

The secret is the job owner's (``GET /api/v1/webhook-secret``; rotate with ``POST
/api/v1/webhook-secret/rotate``). For ``webhook_secret_grace_s`` after a rotation the header
carries two comma-separated signatures, new secret first, so receivers can switch keys without
dropping deliveries. Deliveries to the operator's global ``webhook_url`` are signed with
``webhook_secret`` when it is set (else with the owner's secret too). Receivers recompute the
HMAC over the raw body (:func:`verify_signature` accepts any of the listed signatures) and
reject old timestamps. Failed attempts (network error or non-2xx) are retried after
``webhook_backoff_s * 2**(n-1)`` seconds, up to ``webhook_max_attempts``.

URLs are guarded like input URLs (:mod:`reelsmith.inputs.netguard`): only http(s); hosts that
resolve to loopback / private / link-local addresses are refused unless
``webhook_allow_private`` (or ``url_allow_private``) is set or the host is listed in
``url_allow_hosts``; cloud metadata addresses always are. Each attempt resolves the host once,
checks the answer and connects to exactly that address (``Host`` header and TLS SNI/certificate
check keep the real name), so a DNS answer that changes between check and connect cannot move
the request. Proxy variables from the environment are ignored and redirects are not followed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from reelsmith.config import Settings, get_settings
from reelsmith.errors import InputError
from reelsmith.inputs.netguard import AddressRefused, IPAddress, describe, resolve_checked, show
from reelsmith.jobs import models as m

if TYPE_CHECKING:
    import httpx

    from reelsmith.jobs.store import JobStore

log = logging.getLogger(__name__)
_DEFAULT_PORTS = {"http": 80, "https": 443}


# -- signatures -----------------------------------------------------------------------------
def sign(secret: str, timestamp: str, body: bytes) -> str:
    """One signature: ``sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_header(secrets_: list[str], timestamp: str, body: bytes) -> str:
    """The ``X-Reelsmith-Signature`` value: one signature per secret, comma-separated."""
    return ",".join(sign(s, timestamp, body) for s in secrets_)


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str,
                     tolerance_s: float = 300.0) -> bool:
    """True when ``signature`` (a header with one or more ``sha256=`` values) matches ``secret``.

    The timestamp must be within ``tolerance_s`` of now (replay protection).
    """
    try:
        if abs(time.time() - float(timestamp)) > tolerance_s:
            return False
    except ValueError:
        return False
    expected = sign(secret, timestamp, body)
    found = False
    for part in signature.split(","):
        # compare every candidate: the time taken does not tell which one matched
        found |= hmac.compare_digest(expected, part.strip())
    return found


@dataclass(frozen=True)
class OwnerSecretView:
    """What an owner may know about their signing secret."""

    secret: str
    rotated_at: float
    previous: str | None
    previous_valid_until: float | None  # None: no previous secret is valid any more

    def signing_secrets(self) -> list[str]:
        """The secrets a delivery is signed with now: current first, then the previous one."""
        if self.previous and self.previous_valid_until is not None:
            return [self.secret, self.previous]
        return [self.secret]


def owner_secret_view(store: JobStore, owner: str, now: float | None = None) -> OwnerSecretView:
    """The owner's secret (created on first use) and whether the previous one still signs."""
    row = store.owner_secret(owner)
    now = time.time() if now is None else now
    until: float | None = None
    if row.previous:
        end = row.rotated_at + get_settings().webhook_secret_grace_s
        if now < end:
            until = end
    return OwnerSecretView(secret=row.secret, rotated_at=row.rotated_at, previous=row.previous,
                           previous_valid_until=until)


def signing_secrets(store: JobStore, job: m.Job, *, operator: bool = False) -> list[str]:
    """Secrets for one delivery: the operator's ``webhook_secret`` for the global hook when set,
    else the job owner's (plus the previous one during the grace period)."""
    s = get_settings()
    if operator and s.webhook_secret:
        return [s.webhook_secret]
    return owner_secret_view(store, job.owner).signing_secrets()


# -- the address guard ----------------------------------------------------------------------
def _guard_settings(s: Settings) -> Settings:
    """netguard settings for webhooks: ``webhook_allow_private`` opens private networks too."""
    if s.webhook_allow_private and not s.url_allow_private:
        return dataclasses.replace(s, url_allow_private=True)
    return s


def _split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; InputError if it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InputError("The webhook URL is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InputError(f"The webhook URL {url!r} must be an http:// or https:// URL.")
    return scheme, parts.hostname, port or _DEFAULT_PORTS[scheme]


def _refused(host: str, exc: AddressRefused) -> InputError:
    return InputError(
        f"The webhook host {host} resolves to {describe(exc.reason)} ({show(exc.ip)}), which is "
        "refused (set REELSMITH_WEBHOOK_ALLOW_PRIVATE=1 to allow private networks).")


def resolve_webhook(url: str) -> list[IPAddress]:
    """Resolve the URL's host once and return its checked addresses.

    Raises :class:`InputError` for a malformed URL or a refused address, and a plain
    ``InputError`` from netguard when the name does not resolve.
    """
    _scheme, host, port = _split(url)
    try:
        return resolve_checked(host, port, _guard_settings(get_settings()))
    except AddressRefused as exc:
        raise _refused(host, exc) from None


def check_url(url: str) -> str:
    """Validate a webhook URL (scheme, host, address guard); raises InputError with the reason."""
    resolve_webhook(url)
    return url


# -- delivery -------------------------------------------------------------------------------
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


def _host_header(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == _DEFAULT_PORTS[scheme] else f"{shown}:{port}"


def _post_pinned(client: httpx.Client, url: str, addrs: list[IPAddress], body: bytes,
                 headers: dict[str, str]) -> int:
    """POST to the first checked address that accepts a connection, presenting the real host.

    Returns the HTTP status; the answer's body is not read (a receiver cannot make us
    download anything).
    """
    import httpx

    scheme, host, port = _split(url)
    target = httpx.URL(url)
    extensions: dict[str, Any] = {}
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if scheme == "https":
            extensions["sni_hostname"] = host  # TLS SNI and the certificate's expected name
    sent = {**headers, "Host": _host_header(scheme, host, port)}
    last: Exception | None = None
    for ip in addrs:
        req = client.build_request("POST", target.copy_with(host=str(ip)), content=body,
                                   headers=sent, extensions=extensions)
        try:
            resp = client.send(req, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            last = exc
            continue
        resp.close()
        return resp.status_code
    assert last is not None
    raise last


def deliver(store: JobStore, job: m.Job, url: str, *, operator: bool = False) -> bool:
    """POST the job's outcome to ``url`` with retries; records each attempt.

    ``operator``: this is the global ``settings.webhook_url`` (signed with ``webhook_secret``
    when that is set). A refused address ends the delivery at once; network errors, DNS
    failures and non-2xx answers are retried.
    """
    import httpx

    s = get_settings()
    body = json.dumps(payload_for(job), separators=(",", ":"), default=str).encode()
    keys = signing_secrets(store, job, operator=operator)
    event = f"job.{job.status}"
    attempts = max(1, s.webhook_max_attempts)
    guard = _guard_settings(s)
    try:
        _scheme, host, port = _split(url)
    except InputError as exc:
        store.record_delivery(job.id, url, event, 1, False, None, exc.message)
        return False
    with httpx.Client(timeout=s.webhook_timeout_s, follow_redirects=False,
                      trust_env=False) as client:
        for attempt in range(1, attempts + 1):
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "reelsmith-webhook",
                "X-Reelsmith-Event": event,
                "X-Reelsmith-Job": job.id,
                "X-Reelsmith-Delivery": f"{job.id}-{attempt}",
                "X-Reelsmith-Timestamp": ts,
                "X-Reelsmith-Signature": signature_header(keys, ts, body),
            }
            code: int | None = None
            err: str | None = None
            try:
                addrs = resolve_checked(host, port, guard)  # one lookup per attempt
            except AddressRefused as exc:
                store.record_delivery(job.id, url, event, attempt, False, None,
                                      _refused(host, exc).message)
                return False  # a refused address: retrying would not help
            except InputError as exc:
                err = exc.message  # the name did not resolve: DNS trouble may pass
            else:
                try:
                    code = _post_pinned(client, url, addrs, body, headers)
                    if not 200 <= code < 300:
                        err = f"The receiver answered HTTP {code}."
                except Exception as exc:  # noqa: BLE001 - network trouble of any kind: retry
                    err = f"{type(exc).__name__}: {exc}"
            ok = err is None
            store.record_delivery(job.id, url, event, attempt, ok, code, err)
            if ok:
                return True
            if attempt < attempts:
                time.sleep(s.webhook_backoff_s * 2 ** (attempt - 1))
    log.warning("webhook for job %s failed after %d attempts", job.id, attempts,
                extra={"job_id": job.id, "owner": job.owner})
    return False


def dispatch(store: JobStore, job: m.Job, *, wait: bool = False) -> list[threading.Thread]:
    """Deliver the finished ``job`` (its row as stored) to its own webhook and the global one
    (background threads)."""
    if job.status not in m.FINISHED:
        return []
    targets: dict[str, bool] = {}
    if job.webhook_url:
        targets[job.webhook_url] = False  # the job's own hook: always the owner's secret
    glob = get_settings().webhook_url
    if glob and glob not in targets:
        targets[glob] = True
    threads = []
    for url, operator in targets.items():
        t = threading.Thread(target=deliver, args=(store, job, url), kwargs={"operator": operator},
                             daemon=True, name=f"webhook-{job.id[:8]}")
        t.start()
        threads.append(t)
    if wait:
        for t in threads:
            t.join()
    return threads
