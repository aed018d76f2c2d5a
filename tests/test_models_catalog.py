"""Catalog, models directory, pull (real HTTP server on 127.0.0.1), verify, import, CLI."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest
from rangeserver import RangeHandler

from reelsmith.config import reset_settings
from reelsmith.errors import ModelError
from reelsmith.models import import_model, installed_models, load_catalog, verify
from reelsmith.models.download import pull

REQUIRED = {"RealESRGAN_x4plus", "RealESRGAN_x2plus", "realesr-animevideov3", "2x-AnimeSharpV4",
            "rife-v4.6", "rife-v4.6-onnx", "GFPGANv1.4", "CodeFormer"}


class _Handler(RangeHandler):
    """Serves bytes from ``server.files`` with Range support; can cut a response short."""

    def do_GET(self):  # noqa: N802
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_bytes(data, ranges=srv.ranges)


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.requests, srv.ranges, srv.cut_after = {}, [], True, None
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def tiny_model(tmp_path) -> tuple[Path, bytes]:
    pytest.importorskip("onnx")
    from modelgen import make_sr_onnx

    p = make_sr_onnx(tmp_path / "tiny_x2.onnx", scale=2, depth=1)
    return p, p.read_bytes()


def _catalog(tmp_path, monkeypatch, url: str, sha: str) -> None:
    cat = tmp_path / "extra_catalog.toml"
    cat.write_text(f'''[[model]]
name = "tiny-x2"
purpose = "upscale"
format = "onnx"
scale = 2
file = "tiny_x2.onnx"
sha256 = "{sha}"
url = "{url}"
license = "test"
''')
    monkeypatch.setenv("REELSMITH_MODELS_CATALOG", str(cat))
    monkeypatch.setenv("REELSMITH_MODELS", str(tmp_path / "models"))
    reset_settings()


def test_catalog_has_the_known_models():
    cat = load_catalog()
    assert set(cat) >= REQUIRED
    for e in cat.values():
        assert e.file and e.license and e.source
        assert e.sha256 == "" or len(e.sha256) == 64
    assert cat["RealESRGAN_x4plus"].scale == 4 and cat["rife-v4.6"].purpose == "interpolate"


def test_pull_downloads_checks_and_records(server, tiny_model, tmp_path, monkeypatch):
    _, data = tiny_model
    server.files["/m/tiny_x2.onnx"] = data
    url = f"http://127.0.0.1:{server.server_port}/m/tiny_x2.onnx"
    _catalog(tmp_path, monkeypatch, url, hashlib.sha256(data).hexdigest())
    path = pull("tiny-x2", progress=False)
    assert path.read_bytes() == data
    assert [m.name for m in installed_models()] == ["tiny-x2"]
    assert verify() == [{"name": "tiny-x2", "file": "tiny_x2.onnx", "status": "ok",
                         "expected": hashlib.sha256(data).hexdigest(),
                         "actual": hashlib.sha256(data).hexdigest()}]
    from reelsmith.models import select_upscaler

    up = select_upscaler("auto", scale=2)
    assert up is not None and up.name == "tiny-x2"
    path.write_bytes(data[:-1] + b"\0")  # corrupt on disk
    assert verify()[0]["status"] == "mismatch"


def test_pull_checksum_failure_leaves_nothing(server, tiny_model, tmp_path, monkeypatch):
    _, data = tiny_model
    server.files["/tiny_x2.onnx"] = data
    _catalog(tmp_path, monkeypatch, "http://127.0.0.1:9/unused", "0" * 64)
    monkeypatch.setenv("REELSMITH_MODELS_MIRROR", f"http://127.0.0.1:{server.server_port}")
    reset_settings()
    with pytest.raises(ModelError, match="Checksum mismatch"):
        pull("tiny-x2", progress=False)
    models = tmp_path / "models"
    assert not (models / "tiny_x2.onnx").exists()
    assert not list((models / ".partial").iterdir())


def test_pull_resumes_with_range(server, tiny_model, tmp_path, monkeypatch):
    _, data = tiny_model
    server.files["/tiny_x2.onnx"] = data
    url = f"http://127.0.0.1:{server.server_port}/tiny_x2.onnx"
    _catalog(tmp_path, monkeypatch, url, hashlib.sha256(data).hexdigest())
    half = len(data) // 2
    server.cut_after = half  # the connection drops half-way
    with pytest.raises(ModelError, match="resume"):
        pull("tiny-x2", progress=False)
    part = tmp_path / "models" / ".partial" / "tiny_x2.onnx.part"
    assert part.stat().st_size == half
    assert not (tmp_path / "models" / "tiny_x2.onnx").exists()
    server.cut_after = None
    path = pull("tiny-x2", progress=True)
    assert path.read_bytes() == data
    assert server.requests[-1] == ("/tiny_x2.onnx", f"bytes={half}-")
    assert not part.exists()


def test_pull_restarts_when_server_ignores_range(server, tiny_model, tmp_path, monkeypatch):
    _, data = tiny_model
    server.files["/x"] = data
    server.ranges = False
    _catalog(tmp_path, monkeypatch, f"http://127.0.0.1:{server.server_port}/x",
             hashlib.sha256(data).hexdigest())
    part_dir = tmp_path / "models" / ".partial"
    part_dir.mkdir(parents=True)
    (part_dir / "tiny_x2.onnx.part").write_bytes(b"garbage-prefix")
    assert pull("tiny-x2", progress=False).read_bytes() == data


def test_pull_errors(server, tmp_path, monkeypatch):
    _catalog(tmp_path, monkeypatch, f"http://127.0.0.1:{server.server_port}/missing", "")
    with pytest.raises(ModelError, match="HTTP 404"):
        pull("tiny-x2", progress=False)
    with pytest.raises(ModelError, match="no direct download URL"):
        pull("2x-AnimeSharpV4")
    with pytest.raises(ModelError, match="Did you mean"):
        pull("tiny-x3")


def test_import_and_verify_and_drop_in(tiny_model, tmp_path, monkeypatch):
    src, data = tiny_model
    monkeypatch.setenv("REELSMITH_MODELS", str(tmp_path / "models"))
    reset_settings()
    m = import_model(src)
    assert m.path.read_bytes() == data and m.recorded["scale"] == 2
    assert m.recorded["purpose"] == "upscale"
    (tmp_path / "models" / "dropped.onnx").write_bytes(data)
    names = {x.name for x in installed_models()}
    assert names == {"tiny_x2", "dropped"}
    statuses = {r["file"]: r["status"] for r in verify()}
    assert statuses == {"tiny_x2.onnx": "ok", "dropped.onnx": "unrecorded"}
    with pytest.raises(ModelError, match="Not installed"):
        verify(["nothing"])
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"junk")
    with pytest.raises(ModelError):
        import_model(junk)
    with pytest.raises(ModelError, match="no such file"):
        import_model(tmp_path / "absent.onnx")


def test_cli_models_commands(server, tiny_model, tmp_path, monkeypatch, capsys):
    from reelsmith.cli import main

    src, data = tiny_model
    server.files["/tiny_x2.onnx"] = data
    _catalog(tmp_path, monkeypatch, "", hashlib.sha256(data).hexdigest())
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "RealESRGAN_x4plus" in out and "tiny-x2" in out and "manual download" in out
    url = f"http://127.0.0.1:{server.server_port}/tiny_x2.onnx"
    assert main(["models", "pull", "tiny-x2", "--url", url, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["models", "info", "tiny-x2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["scale"] == 2 and info["backend"] == "onnxruntime" and info["status"] == "installed"
    assert main(["models", "info", "CodeFormer"]) == 0
    assert "not installed" in capsys.readouterr().out
    assert main(["models", "verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "ok"
    assert main(["models", "import", str(src), "--name", "other"]) == 0
    assert "sha256" in capsys.readouterr().out
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["models"]
    assert any(r["name"] == "tiny-x2" and r["status"] == "installed" for r in rows)
    assert main(["models", "info", str(tmp_path / "nope.onnx")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "models" / "tiny_x2.onnx").write_bytes(b"x" + data[1:])
    assert main(["models", "verify"]) == 2
    assert "mismatch" in capsys.readouterr().err
