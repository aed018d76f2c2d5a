"""API keys, ownership isolation, rate limits, bind policy."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from jobs_testkit import wait_for

from mediagen import make_image
from reelsmith.cli import main
from reelsmith.config import reset_settings


def _create_key(capsys, name: str) -> str:
    assert main(["keys", "create", name]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_keys_cli_hashing_and_isolation(capsys, media_dir, tmp_path):
    from reelsmith.jobs.store import JobStore
    from reelsmith.server.app import create_app

    alice = _create_key(capsys, "alice")
    bob = _create_key(capsys, "bob")
    assert alice.startswith("rsk_") and alice != bob
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and "bob" in listing and alice not in listing
    db = (tmp_path / "data" / "reelsmith.db").read_bytes()
    assert alice.encode() not in db  # stored hashed
    assert JobStore().lookup_key(alice).owner == "alice"

    A = {"Authorization": f"Bearer {alice}"}
    B = {"Authorization": f"Bearer {bob}"}
    with TestClient(base_url="http://127.0.0.1", app=create_app(concurrency=1)) as c:
        assert c.get("/api/v1/jobs").status_code == 401
        assert c.get("/api/v1/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401
        job = c.post("/api/v1/jobs", json={"workflow": "test_sleep"}, headers=A).json()
        png = make_image(media_dir / "auth.png", 32, 32)
        up = c.post("/api/v1/uploads", files={"file": ("a.png", png.read_bytes(), "image/png")},
                    headers=A).json()
        wait_for(lambda: c.get(f"/api/v1/jobs/{job['id']}", headers=A).json()["status"]
                 == "completed")
        for path in (f"/api/v1/jobs/{job['id']}", f"/api/v1/jobs/{job['id']}/result",
                     f"/api/v1/jobs/{job['id']}/artifacts/report",
                     f"/api/v1/jobs/{job['id']}/events", f"/api/v1/uploads/{up['id']}"):
            assert c.get(path, headers=A).status_code == 200, path
            assert c.get(path, headers=B).status_code == 404, path
        assert c.post(f"/api/v1/jobs/{job['id']}/cancel", headers=B).status_code == 404
        assert c.delete(f"/api/v1/jobs/{job['id']}", headers=B).status_code == 404
        r = c.post("/api/v1/jobs", json={"workflow": "test_copy", "inputs": {"video": up["id"]}},
                   headers=B)
        assert r.status_code == 404  # bob cannot use alice's upload
        assert c.get("/api/v1/jobs", headers=B).json()["total"] == 0
        assert c.get("/api/v1/jobs", headers=A).json()["total"] == 1

        assert main(["keys", "revoke", "bob"]) == 0
        wait_for(lambda: c.get("/api/v1/jobs", headers=B).status_code == 401, timeout=10)
    assert main(["keys", "revoke", "nobody"]) == 2


def test_rate_limit_per_key(capsys, monkeypatch):
    from reelsmith.server.app import create_app

    monkeypatch.setenv("REELSMITH_RATE_LIMIT_PER_MINUTE", "5")
    reset_settings()
    key = _create_key(capsys, "carol")
    other = _create_key(capsys, "dave")
    with TestClient(base_url="http://127.0.0.1", app=create_app(concurrency=1)) as c:
        codes = [c.get("/api/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code
                 for _ in range(8)]
        assert codes[:5] == [200] * 5 and codes[-1] == 429
        r = c.get("/api/v1/jobs", headers={"Authorization": f"Bearer {key}"})
        assert int(r.headers["retry-after"]) >= 1 and r.json()["error"] == "rate_limited"
        assert c.get("/api/v1/jobs", headers={"Authorization": f"Bearer {other}"}).status_code \
            == 200


def test_serve_refuses_public_bind_without_auth(capsys):
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "--insecure" in capsys.readouterr().err


def test_require_auth_without_keys(monkeypatch):
    from reelsmith.server.app import create_app

    monkeypatch.setenv("REELSMITH_REQUIRE_AUTH", "1")
    reset_settings()
    with TestClient(base_url="http://127.0.0.1", app=create_app(concurrency=1)) as c:
        r = c.get("/api/v1/workflows")
        assert r.status_code == 401 and "Bearer" in r.json()["message"]
        assert c.get("/api/v1/system/health").status_code == 200


@pytest.mark.parametrize("bad", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a" * 31 + "g"])
def test_no_traversal_through_ids(bad):
    from reelsmith.server.app import create_app

    with TestClient(base_url="http://127.0.0.1", app=create_app(concurrency=1)) as c:
        for path in (f"/api/v1/jobs/{bad}", f"/api/v1/jobs/{bad}/artifacts/video",
                     f"/api/v1/uploads/{bad}"):
            r = c.get(path)
            assert r.status_code == 404 and "root:" not in r.text
