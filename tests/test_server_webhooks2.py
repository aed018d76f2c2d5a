"""Webhook hardening: per-owner secrets and rotation, the secret API, pinned connections."""

from __future__ import annotations

import json
import socket

import pytest
from fastapi.testclient import TestClient
from jobs_testkit import WebhookReceiver, wait_for

from reelsmith.config import reset_settings


@pytest.fixture()
def hooks(monkeypatch):
    monkeypatch.setenv("REELSMITH_WEBHOOK_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("REELSMITH_WEBHOOK_BACKOFF_S", "0.05")
    reset_settings()


def _app():
    from reelsmith.server.app import create_app

    return create_app(concurrency=1)


def _keys(*owners: str) -> dict[str, str]:
    from reelsmith.jobs.store import JobStore

    store = JobStore()
    return {o: store.create_key(f"{o}-key", owner=o)[1] for o in owners}


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _headers(req: dict) -> dict[str, str]:
    return {k.lower(): v for k, v in req["headers"].items()}


def _delivery_for(rx: WebhookReceiver, job_id: str) -> dict:
    return wait_for(lambda: next((r for r in rx.requests
                                  if _headers(r).get("x-reelsmith-job") == job_id), None))


def _verifies(secret: str, req: dict) -> bool:
    from reelsmith.jobs.webhooks import verify_signature

    h = _headers(req)
    return verify_signature(secret, h["x-reelsmith-timestamp"], req["body"], h["x-reelsmith-signature"])


def test_verify_signature_accepts_any_listed_signature():
    import time

    from reelsmith.jobs.webhooks import sign, signature_header, verify_signature

    ts, body = str(int(time.time())), b'{"x":1}'
    header = signature_header(["new", "old"], ts, body)
    assert header == f"{sign('new', ts, body)},{sign('old', ts, body)}"
    assert verify_signature("new", ts, body, header)
    assert verify_signature("old", ts, body, header)
    assert verify_signature("old", ts, body, header.replace(",", " , "))
    assert not verify_signature("other", ts, body, header)
    assert not verify_signature("new", ts, body + b" ", header)
    assert not verify_signature("new", str(int(time.time()) - 3600), body, header)


def test_two_owners_get_their_own_signatures(hooks):
    keys = _keys("alice", "bob")
    with WebhookReceiver() as rx, TestClient(_app(), base_url="http://127.0.0.1") as c:
        secrets = {}
        for owner, key in keys.items():
            r = c.get("/api/v1/webhook-secret", headers=_auth(key))
            assert r.status_code == 200, r.text
            info = r.json()
            assert set(info) == {"secret", "rotated_at", "previous_valid_until"}
            assert info["previous_valid_until"] is None and info["secret"]
            secrets[owner] = info["secret"]
        assert secrets["alice"] != secrets["bob"]
        jobs = {}
        for owner, key in keys.items():
            r = c.post("/api/v1/jobs", headers=_auth(key),
                       json={"workflow": "test_sleep", "webhook_url": rx.url, "params": {"label": owner}})
            assert r.status_code in (200, 201, 202), r.text
            jobs[owner] = r.json()["id"]
        got = {owner: _delivery_for(rx, job_id) for owner, job_id in jobs.items()}
        assert c.get("/api/v1/webhook-secret").status_code == 401  # auth is on: no key, no secret
    for owner, req in got.items():
        other = "bob" if owner == "alice" else "alice"
        assert "," not in _headers(req)["x-reelsmith-signature"]  # never rotated: one signature
        assert _verifies(secrets[owner], req)
        assert not _verifies(secrets[other], req)
        assert json.loads(req["body"])["job_id"] == jobs[owner]


def test_rotation_sends_both_signatures_during_grace(hooks):
    (key,) = _keys("carol").values()
    with WebhookReceiver() as rx, TestClient(_app(), base_url="http://127.0.0.1") as c:
        old = c.get("/api/v1/webhook-secret", headers=_auth(key)).json()
        r = c.post("/api/v1/webhook-secret/rotate", headers=_auth(key))
        assert r.status_code == 200, r.text
        new = r.json()
        assert new["secret"] != old["secret"] and new["secret"].startswith("whsec_")
        assert new["rotated_at"] >= old["rotated_at"]
        assert new["previous_valid_until"] == pytest.approx(new["rotated_at"] + 86400.0)
        assert c.get("/api/v1/webhook-secret", headers=_auth(key)).json() == new
        job = c.post("/api/v1/jobs", headers=_auth(key),
                     json={"workflow": "test_sleep", "webhook_url": rx.url}).json()
        req = _delivery_for(rx, job["id"])
    sigs = _headers(req)["x-reelsmith-signature"].split(",")
    assert len(sigs) == 2 and all(s.startswith("sha256=") for s in sigs)
    assert _verifies(new["secret"], req) and _verifies(old["secret"], req)
    assert not _verifies("whsec_" + "0" * 64, req)


def test_previous_secret_stops_signing_after_grace(hooks, monkeypatch):
    monkeypatch.setenv("REELSMITH_WEBHOOK_SECRET_GRACE_S", "0")
    reset_settings()
    with WebhookReceiver() as rx, TestClient(_app(), base_url="http://127.0.0.1") as c:
        old = c.get("/api/v1/webhook-secret").json()  # auth off: the single owner "local"
        new = c.post("/api/v1/webhook-secret/rotate").json()
        assert new["previous_valid_until"] is None
        job = c.post("/api/v1/jobs", json={"workflow": "test_sleep", "webhook_url": rx.url}).json()
        req = _delivery_for(rx, job["id"])
    assert "," not in _headers(req)["x-reelsmith-signature"]
    assert _verifies(new["secret"], req) and not _verifies(old["secret"], req)


def test_operator_secret_signs_only_the_global_hook(hooks, monkeypatch):
    with WebhookReceiver() as own, WebhookReceiver() as glob:
        monkeypatch.setenv("REELSMITH_WEBHOOK_URL", glob.url)
        monkeypatch.setenv("REELSMITH_WEBHOOK_SECRET", "operator-s3cret")
        reset_settings()
        with TestClient(_app(), base_url="http://127.0.0.1") as c:
            owner_secret = c.get("/api/v1/webhook-secret").json()["secret"]
            job = c.post("/api/v1/jobs", json={"workflow": "test_sleep", "webhook_url": own.url}).json()
            to_owner, to_operator = _delivery_for(own, job["id"]), _delivery_for(glob, job["id"])
    assert _verifies(owner_secret, to_owner) and not _verifies("operator-s3cret", to_owner)
    assert _verifies("operator-s3cret", to_operator) and not _verifies(owner_secret, to_operator)


class _FakeDns:
    """getaddrinfo for one test host name: ``answers`` in turn (the last one repeats)."""

    def __init__(self, monkeypatch, host: str, answers: list[str]) -> None:
        self.host, self.answers, self.calls = host, answers, 0
        real = socket.getaddrinfo

        def fake(name, port, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            if name != host:
                return real(name, port, *args, **kwargs)
            ip = self.answers[min(self.calls, len(self.answers) - 1)]
            self.calls += 1
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port or 0))]

        monkeypatch.setattr(socket, "getaddrinfo", fake)


def _finished_job():
    from reelsmith.jobs.store import JobStore

    store = JobStore()
    job = store.create_job(owner="dana", workflow="test_sleep", params={}, inputs={})
    job.status, job.error = "failed", "The test workflow was asked to fail."
    return store, job


def test_delivery_connects_to_the_checked_address(hooks, monkeypatch):
    """One lookup per attempt, and the POST goes to exactly that answer.

    The name's second answer (a TEST-NET address nothing listens on) is what a rebinding DNS
    server would hand a client that looked the name up again to connect: a delivery that did
    so would time out instead of reaching the receiver. Proxy variables point at nothing and
    must be ignored.
    """
    from reelsmith.jobs.webhooks import deliver

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.setenv("REELSMITH_WEBHOOK_TIMEOUT_S", "2")
    monkeypatch.setenv("REELSMITH_WEBHOOK_MAX_ATTEMPTS", "1")
    reset_settings()
    store, job = _finished_job()
    with WebhookReceiver() as rx:
        port = rx.httpd.server_address[1]
        dns = _FakeDns(monkeypatch, "hooks.example.test", ["127.0.0.1", "192.0.2.10"])
        assert deliver(store, job, f"http://hooks.example.test:{port}/hook")
    assert dns.calls == 1
    (req,) = rx.requests
    assert _headers(req)["host"] == f"hooks.example.test:{port}"  # the real name, not the IP
    assert req["path"] == "/hook" and json.loads(req["body"])["job_id"] == job.id
    assert [(d.attempt, d.ok, d.status_code) for d in store.deliveries(job.id)] == [(1, True, 200)]


def test_each_retry_resolves_and_checks_again(hooks, monkeypatch):
    from reelsmith.jobs.webhooks import deliver

    store, job = _finished_job()
    with WebhookReceiver(fail_first=2) as rx:
        port = rx.httpd.server_address[1]
        dns = _FakeDns(monkeypatch, "hooks.example.test", ["127.0.0.1"])
        assert deliver(store, job, f"http://hooks.example.test:{port}/hook")
    assert dns.calls == 3 and len(rx.requests) == 3
    assert [d.ok for d in store.deliveries(job.id)] == [False, False, True]


def test_rebinding_to_a_refused_address_stops_the_retries(hooks, monkeypatch):
    """A later attempt whose lookup answers a metadata address is refused and not contacted."""
    from reelsmith.jobs.webhooks import deliver

    store, job = _finished_job()
    with WebhookReceiver(fail_first=1) as rx:
        port = rx.httpd.server_address[1]
        dns = _FakeDns(monkeypatch, "hooks.example.test", ["127.0.0.1", "169.254.169.254"])
        assert not deliver(store, job, f"http://hooks.example.test:{port}/hook")
    assert dns.calls == 2 and len(rx.requests) == 1
    first, second = store.deliveries(job.id)
    assert first.status_code == 500 and second.status_code is None
    assert "metadata" in second.error and "Traceback" not in second.error


def test_refused_answer_is_not_contacted_nor_retried(hooks, monkeypatch):
    """A metadata address is refused even with webhook_allow_private; no retry follows."""
    from reelsmith.jobs.webhooks import deliver

    store, job = _finished_job()
    dns = _FakeDns(monkeypatch, "meta.example.test", ["169.254.169.254"])
    assert not deliver(store, job, "http://meta.example.test/hook")
    assert dns.calls == 1
    (d,) = store.deliveries(job.id)
    assert not d.ok and d.status_code is None
    assert "metadata" in d.error and "Traceback" not in d.error


def test_check_url_uses_the_shared_guard(monkeypatch):
    from reelsmith.errors import InputError
    from reelsmith.jobs.webhooks import check_url

    _FakeDns(monkeypatch, "inside.example.test", ["10.1.2.3"])
    with pytest.raises(InputError, match="private network address.*WEBHOOK_ALLOW_PRIVATE"):
        check_url("https://inside.example.test/hook")
    with pytest.raises(InputError, match="http:// or https://"):
        check_url("ftp://example.com/hook")
    monkeypatch.setenv("REELSMITH_WEBHOOK_ALLOW_PRIVATE", "1")
    reset_settings()
    assert check_url("https://inside.example.test/hook")
