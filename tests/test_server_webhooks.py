"""Webhooks: signed POSTs to a real receiver on 127.0.0.1, retries, recorded deliveries."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from jobs_testkit import WebhookReceiver, wait_for

from reelsmith.config import reset_settings


@pytest.fixture()
def allow_loopback_hooks(monkeypatch):
    monkeypatch.setenv("REELSMITH_WEBHOOK_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("REELSMITH_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("REELSMITH_WEBHOOK_BACKOFF_S", "0.05")
    reset_settings()


def _app():
    from reelsmith.server.app import create_app

    return create_app(concurrency=1)


def test_signed_webhook_with_retries_recorded(allow_loopback_hooks):
    from reelsmith.jobs.webhooks import verify_signature

    with WebhookReceiver(fail_first=2) as rx, TestClient(base_url="http://127.0.0.1", app=_app()) as c:
        # a job's own webhook is signed with its owner's secret (not REELSMITH_WEBHOOK_SECRET)
        secret = c.get("/api/v1/webhook-secret").json()["secret"]
        job = c.post("/api/v1/jobs", json={"workflow": "test_sleep", "webhook_url": rx.url,
                                           "params": {"label": "w"}}).json()
        wait_for(lambda: len(rx.requests) >= 3)
        job = wait_for(lambda: (j := c.get(f"/api/v1/jobs/{job['id']}").json())
                       ["webhook_deliveries"] and j["webhook_deliveries"][-1]["ok"] and j)
    assert len(rx.requests) == 3
    deliveries = job["webhook_deliveries"]
    assert [d["attempt"] for d in deliveries] == [1, 2, 3]
    assert [d["ok"] for d in deliveries] == [False, False, True]
    assert deliveries[0]["status_code"] == 500 and deliveries[2]["status_code"] == 200
    # exponential backoff: the second gap is about twice the first
    gaps = [b["at"] - a["at"] for a, b in zip(rx.requests, rx.requests[1:], strict=False)]
    assert gaps[1] > gaps[0]
    req = rx.requests[-1]
    h = {k.lower(): v for k, v in req["headers"].items()}
    assert verify_signature(secret, h["x-reelsmith-timestamp"], req["body"],
                            h["x-reelsmith-signature"])
    assert not verify_signature("s3cret", h["x-reelsmith-timestamp"], req["body"],
                                h["x-reelsmith-signature"])
    body = json.loads(req["body"])
    assert body["job_id"] == job["id"] and body["status"] == "completed"
    assert body["result_url"].endswith(f"/api/v1/jobs/{job['id']}/result")
    assert body["metadata"]["backend"] == "sleep" and body["error"] is None


def test_global_webhook_on_failure(allow_loopback_hooks, monkeypatch):
    with WebhookReceiver() as rx:
        monkeypatch.setenv("REELSMITH_WEBHOOK_URL", rx.url)
        reset_settings()
        with TestClient(base_url="http://127.0.0.1", app=_app()) as c:
            job = c.post("/api/v1/jobs", json={"workflow": "test_sleep",
                                               "params": {"fail": True}}).json()
            wait_for(lambda: rx.requests)
    body = json.loads(rx.requests[0]["body"])
    assert body["job_id"] == job["id"] and body["status"] == "failed"
    assert "asked to fail" in body["error"] and body["result_url"] is None
    assert rx.requests[0]["headers"]["X-Reelsmith-Event"] == "job.failed"


def test_loopback_webhook_refused_by_default():
    with TestClient(base_url="http://127.0.0.1", app=_app()) as c:
        r = c.post("/api/v1/jobs", json={"workflow": "test_sleep",
                                         "webhook_url": "http://127.0.0.1:9/hook"})
        assert r.status_code == 422
        assert r.json()["fields"][0]["field"] == "webhook_url"
        assert "WEBHOOK_ALLOW_PRIVATE" in r.json()["message"]
        r = c.post("/api/v1/jobs", json={"workflow": "test_sleep", "webhook_url": "file:///x"})
        assert r.status_code == 422
