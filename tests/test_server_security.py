"""Each hole found by attacking the job server, reproduced against a real `reelsmith serve`
on 127.0.0.1 (or the app on a real socket), and shown closed."""

from __future__ import annotations

import base64
import json
import socket
import time

import httpx
import psutil
import pytest
from jobs_testkit import wait_for
from serve_proc import ServeProcess

from mediagen import make_image


@pytest.fixture(scope="module")
def png(media_dir):
    return make_image(media_dir / "sec.png", 32, 32)


def _key(srv: ServeProcess, name: str) -> str:
    out = srv.cli("keys", "create", name)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


# -- 1. revoking the last key ------------------------------------------------------------
def test_auth_stays_on_after_the_last_key_is_revoked(tmp_path):
    srv = ServeProcess(tmp_path / "data")
    key = None
    srv.data_dir.mkdir(parents=True)
    key = _key(srv, "alice")
    with srv:
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.get(srv.url + "/api/v1/jobs", headers=auth).status_code == 200
        assert httpx.get(srv.url + "/api/v1/jobs").status_code == 401
        assert srv.cli("keys", "revoke", "alice").returncode == 0
        time.sleep(2.5)  # longer than any key cache
        assert httpx.get(srv.url + "/api/v1/jobs").status_code == 401
        assert httpx.get(srv.url + "/api/v1/jobs", headers=auth).status_code == 401


def test_a_key_created_while_running_turns_auth_on(tmp_path):
    with ServeProcess(tmp_path / "data") as srv:
        assert httpx.get(srv.url + "/api/v1/jobs").status_code == 200  # loopback, no keys
        key = _key(srv, "bob")
        wait_for(lambda: httpx.get(srv.url + "/api/v1/jobs").status_code == 401, timeout=10)
        assert httpx.get(srv.url + "/api/v1/jobs",
                         headers={"Authorization": f"Bearer {key}"}).status_code == 200


# -- 2./3. one input policy; no server files through paths --------------------------------
def test_paths_are_refused_on_every_route_once_auth_is_on(tmp_path, png):
    srv = ServeProcess(tmp_path / "data")
    srv.data_dir.mkdir(parents=True)
    key = _key(srv, "alice")
    auth = {"Authorization": f"Bearer {key}"}
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("top secret")
    with srv:
        refusals = []
        for target in (str(png), "/etc/passwd", "/does/not/exist", str(secret_file)):
            for body in ({"input": {"workflow": "test_copy", "inputs": {"video": target}}},
                         {"input": {"workflow": "test_copy", "inputs": {"video": {"video_path": target}}}},
                         {"input": {"workflow": "test_copy", "video_path": target}}):
                r = httpx.post(srv.url + "/v2/ep/run", json=body, headers=auth)
                assert r.status_code == 400 and r.json()["error"] == "paths_disabled", r.text
                refusals.append(r.json()["message"].split(":", 1)[1])
            r = httpx.post(srv.url + "/api/v1/jobs", headers=auth,
                           json={"workflow": "test_copy", "inputs": {"video": {"path": target}}})
            assert r.status_code == 400 and r.json()["error"] == "paths_disabled"
            refusals.append(r.json()["message"].split(":", 1)[1])
        assert len(set(refusals)) == 1  # the same sentence whether the file exists or not
        assert httpx.get(srv.url + "/api/v1/jobs", headers=auth).json()["total"] == 0


def test_data_dir_files_and_other_owners_uploads_cannot_be_named(tmp_path, png):
    roots = f"{tmp_path}"
    srv = ServeProcess(tmp_path / "data", env={"REELSMITH_ALLOWED_ROOTS": roots})
    srv.data_dir.mkdir(parents=True)
    alice, mallory = _key(srv, "alice"), _key(srv, "mallory")
    with srv:
        up = httpx.post(srv.url + "/api/v1/uploads", headers={"Authorization": f"Bearer {alice}"},
                        files={"file": ("a.png", png.read_bytes(), "image/png")})
        assert up.status_code == 201, up.text
        assert str(tmp_path) not in up.text and ".part-" not in up.text  # no server path
        stored = next((srv.data_dir / "uploads" / up.json()["id"]).iterdir())
        for target in (str(stored), str(srv.data_dir / "reelsmith.db"), str(srv.data_dir / "link_secret")):
            r = httpx.post(srv.url + "/api/v1/jobs", headers={"Authorization": f"Bearer {mallory}"},
                           json={"workflow": "test_copy", "inputs": {"video": {"path": target}}})
            assert r.status_code == 400 and r.json()["error"] == "paths_disabled", r.text
        # by id it is simply not mallory's
        r = httpx.post(srv.url + "/api/v1/jobs", headers={"Authorization": f"Bearer {mallory}"},
                       json={"workflow": "test_copy", "inputs": {"video": up.json()["id"]}})
        assert r.status_code == 404
        # outside the roots: refused without naming them
        r = httpx.post(srv.url + "/api/v1/jobs", headers={"Authorization": f"Bearer {mallory}"},
                       json={"workflow": "test_copy", "inputs": {"video": {"path": "/etc/passwd"}}})
        assert r.status_code == 400 and roots not in r.text


def test_unknown_v2_workflow_is_refused_before_anything_is_stored(tmp_path):
    with ServeProcess(tmp_path / "data") as srv:
        r = httpx.post(srv.url + "/v2/ep/run",
                       json={"input": {"workflow": "<img src=x onerror=alert(1)>"}})
        assert r.status_code == 400 and "Unknown workflow" in r.json()["message"]
        assert httpx.get(srv.url + "/api/v1/jobs").json()["total"] == 0


# -- 4. cross-site requests ------------------------------------------------------------
def test_cross_site_requests_are_refused(tmp_path, png):
    with ServeProcess(tmp_path / "data") as srv:
        body = json.dumps({"workflow": "test_sleep", "inputs": {}})
        # a form post with a JSON body needs no CORS preflight: refused by type
        r = httpx.post(srv.url + "/api/v1/jobs", content=body, headers={"Content-Type": "text/plain"})
        assert r.status_code == 415
        r = httpx.post(srv.url + "/api/v1/jobs", content=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415
        # a page on another origin
        r = httpx.post(srv.url + "/api/v1/jobs", content=body,
                       headers={"Content-Type": "application/json", "Origin": "http://evil.example"})
        assert r.status_code == 403 and r.json()["error"] == "cross_origin"
        r = httpx.post(srv.url + "/api/v1/jobs", content=body,
                       headers={"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403
        # DNS rebinding: the right address under a foreign name
        r = httpx.get(srv.url + "/api/v1/jobs", headers={"Host": f"evil.example:{srv.port}"})
        assert r.status_code == 421
        # a browser's multipart form without a key or the studio's header
        files = {"file": ("a.png", png.read_bytes(), "image/png")}
        r = httpx.post(srv.url + "/api/v1/uploads", files=files,
                       headers={"Origin": srv.url, "Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 403
        r = httpx.post(srv.url + "/api/v1/uploads", files=files,
                       headers={"Origin": srv.url, "X-Reelsmith-Request": "studio"})
        assert r.status_code == 201
        # same-origin JSON and plain clients work; nothing above created a job
        assert httpx.get(srv.url + "/api/v1/jobs").json()["total"] == 0
        r = httpx.post(srv.url + "/api/v1/jobs", content=body,
                       headers={"Content-Type": "application/json", "Origin": srv.url})
        assert r.status_code == 201


# -- 5. bodies limited before parsing ---------------------------------------------------
def _send_chunked(url: str, path: str, total: int, chunk: int = 1 << 20) -> tuple[int, int]:
    """POST ``total`` bytes of a JSON-looking body, chunked; returns (status, bytes sent)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sent = 0
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        piece = b'{"input": {"video_base64": "' + b"A" * (chunk - 30)
        try:
            while sent < total:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent += len(piece)
                piece = b"A" * chunk
        except OSError:
            pass  # the server stopped reading: the answer is waiting
        data = b""
        try:
            while b"\r\n" not in data:
                more = sock.recv(4096)
                if not more:
                    break
                data += more
        except OSError:
            pass
    finally:
        sock.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1") else 0
    return status, sent


def _db_bytes(data_dir) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("reelsmith.db*"))


def test_huge_bodies_are_refused_without_memory_or_database_growth(tmp_path):
    with ServeProcess(tmp_path / "data") as srv:
        proc = psutil.Process(srv.proc.pid)
        rss0, db0 = proc.memory_info().rss, _db_bytes(srv.data_dir)
        total = 300 * 1024 * 1024
        # declared: refused from the header, before a byte of body is read
        host, port = srv.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(f"POST /v2/ep/run HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: "
                         f"application/json\r\nContent-Length: {total}\r\n\r\n{{".encode())
            assert sock.recv(4096).startswith(b"HTTP/1.1 413")
        # chunked: cut off at the limit while it streams
        status, sent = _send_chunked(srv.url, "/v2/ep/run", total)
        assert status == 413
        status, _ = _send_chunked(srv.url, "/api/v1/jobs", total)
        assert status == 413
        grown = proc.memory_info().rss - rss0
        assert grown < 160 * 1024 * 1024, f"server RSS grew by {grown / 2**20:.0f} MiB"
        assert _db_bytes(srv.data_dir) - db0 < 2 * 1024 * 1024
        # the server is fine afterwards
        assert httpx.get(srv.url + "/api/v1/jobs").status_code == 200


def test_deep_json_is_a_400_and_the_connection_stays_usable(tmp_path):
    with ServeProcess(tmp_path / "data") as srv, httpx.Client(base_url=srv.url) as c:
        deep = "[" * 50_000 + "]" * 50_000
        for path in ("/api/v1/jobs", "/v2/ep/run"):
            r = c.post(path, content=deep, headers={"Content-Type": "application/json"})
            assert r.status_code == 400 and r.json()["error"] == "too_deep", r.text
        assert c.get("/api/v1/jobs").status_code == 200
        assert "Traceback" not in srv.log()


def test_base64_inputs_become_files_not_rows_and_deleting_frees_them(tmp_path, png):
    with ServeProcess(tmp_path / "data") as srv:
        b64 = base64.b64encode(png.read_bytes()).decode()
        r = httpx.post(srv.url + "/v2/ep/run", json={"input": {"workflow": "test_copy", "video_base64": b64}})
        assert r.status_code == 200, r.text
        job_id = r.json()["id"]
        wait_for(lambda: httpx.get(f"{srv.url}/v2/ep/status/{job_id}").json()["status"] == "COMPLETED")
        out = httpx.get(f"{srv.url}/v2/ep/status/{job_id}").json()["output"]
        assert base64.b64decode(out["video"].split(",", 1)[1]) == png.read_bytes()
        assert httpx.get(srv.url + out["video_url"]).content == png.read_bytes()
        # the base64 text is nowhere in the database, and listings carry no inputs
        db = b"".join(p.read_bytes() for p in srv.data_dir.glob("reelsmith.db*"))
        assert b64[:200].encode() not in db
        listing = httpx.get(srv.url + "/api/v1/jobs").json()["items"]
        assert listing and all("inputs" not in j and "params" not in j for j in listing)
        assert any((srv.data_dir / "uploads").iterdir())
        assert httpx.delete(f"{srv.url}/api/v1/jobs/{job_id}").status_code == 200
        assert not any((srv.data_dir / "uploads").iterdir())
        assert not (srv.data_dir / "artifacts" / job_id).exists()


# -- 7. no keys in URLs; scoped link tokens ---------------------------------------------
def test_keys_in_urls_are_refused_and_link_tokens_are_scoped(tmp_path, png):
    srv = ServeProcess(tmp_path / "data")
    srv.data_dir.mkdir(parents=True)
    key, other = _key(srv, "alice"), _key(srv, "eve")
    auth = {"Authorization": f"Bearer {key}"}
    with srv:
        r = httpx.post(srv.url + "/api/v1/jobs", headers=auth, json={
            "workflow": "test_copy", "inputs": {"video": "data:image/png;base64," +
                                                base64.b64encode(png.read_bytes()).decode()}})
        job_id = r.json()["id"]
        wait_for(lambda: httpx.get(f"{srv.url}/api/v1/jobs/{job_id}", headers=auth).json()["status"]
                 == "completed")
        r = httpx.get(f"{srv.url}/api/v1/jobs/{job_id}/events?token={key}")
        assert r.status_code == 401 and "not accepted in URLs" in r.json()["message"]
        links = httpx.post(f"{srv.url}/api/v1/jobs/{job_id}/links", headers=auth).json()
        assert links["token"].startswith("rsl_") and links["expires_at"] <= time.time() + 901
        assert httpx.get(srv.url + links["artifacts"]["video"]).content == png.read_bytes()
        with httpx.stream("GET", srv.url + links["events"]) as ev:
            assert ev.status_code == 200 and "completed" in ev.read().decode()
        # not for writes, not for another job, not for listings
        assert httpx.delete(srv.url + links["job"]).status_code == 401
        token = links["token"]
        assert httpx.get(f"{srv.url}/api/v1/jobs?access={token}").status_code == 401
        r2 = httpx.post(srv.url + "/api/v1/jobs", headers={"Authorization": f"Bearer {other}"},
                        json={"workflow": "test_sleep"})
        assert httpx.get(f"{srv.url}/api/v1/jobs/{r2.json()['id']}?access={token}").status_code == 401
        # forged
        assert httpx.get(f"{srv.url}/api/v1/jobs/{job_id}?access={token[:-2]}xx").status_code == 401
        # revoked key: its links die with it
        assert srv.cli("keys", "revoke", "alice").returncode == 0
        assert httpx.get(srv.url + links["job"]).status_code == 401
