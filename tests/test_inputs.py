"""reelsmith.inputs: path/URL/base64 sources, limits, SSRF guard (real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from inputgen import make_frame_bomb, make_png_bomb

from mediagen import make_image
from reelsmith.config import get_settings, reset_settings
from reelsmith.errors import InputError, LimitExceededError, UnsupportedMediaError
from reelsmith.inputs import (
    ResolvedInput,
    Upload,
    check_header,
    check_limits,
    classify,
    decode_base64,
    download_url,
    pick_source,
    resolve_path,
    resolve_source,
    sniff_dimensions,
)

# --------------------------------------------------------------------------- fixtures


def configure(monkeypatch, **env: object) -> None:
    """Set REELSMITH_* variables (``url_allow_hosts="127.0.0.1"`` ...) and reload settings."""
    for key, value in env.items():
        monkeypatch.setenv("REELSMITH_" + key.upper(), str(value))
    reset_settings()


def allow_local(monkeypatch, **env: object) -> None:
    configure(monkeypatch, url_allow_hosts="127.0.0.1", **env)


@pytest.fixture(scope="module")
def image_png(media_dir) -> Path:
    return make_image(media_dir / "still.png", 40, 30)


@pytest.fixture(scope="module")
def server(clip, image_png):
    """A real HTTP server on 127.0.0.1 with media and misbehaving endpoints."""
    clip_bytes = clip.read_bytes()
    png_bytes = image_png.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, code: int, body: bytes = b"", ctype: str | None = None,
                  headers: dict[str, str] | None = None, length: int | None = None) -> None:
            self.send_response(code)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _redirect(self, location: str, code: int = 302) -> None:
            self._send(code, headers={"Location": location})

        def do_GET(self):
            try:
                self._route()
            except (ConnectionError, TimeoutError):
                pass  # the client gave up on purpose (size cap, timeout tests)

        def _route(self):  # noqa: C901 - a routing table
            path, _, query = self.path.partition("?")
            if path in ("/clip.mp4", "/media/My%20Clip%20(1).mp4"):
                return self._send(200, clip_bytes, "video/mp4")
            if path == "/download":
                return self._send(200, clip_bytes, "application/octet-stream")
            if path == "/noext":
                return self._send(200, clip_bytes, "video/mp4")
            if path == "/still":
                return self._send(200, png_bytes, "image/png")
            if path == "/..%2F..%2Fescape.mp4":
                return self._send(200, clip_bytes, "video/mp4")
            if path == "/redirect":
                n = int(query.split("=")[1]) if query else 1
                target = "/clip.mp4" if n <= 1 else f"/redirect?n={n - 1}"
                return self._redirect(target, 307 if n % 2 else 301)
            if path == "/loop":
                return self._redirect("/loop")
            if path == "/to-private":
                return self._redirect("http://10.0.0.5/video.mp4")
            if path == "/to-metadata":
                return self._redirect("http://169.254.169.254/latest/meta-data/")
            if path == "/to-file":
                return self._redirect("file:///etc/passwd")
            if path == "/huge":
                return self._send(200, b"\x00" * 1024, "video/mp4", length=10 * 1024**3)
            if path == "/stream-big":  # no Content-Length: the cap must stop the stream
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.end_headers()
                for _ in range(64):
                    self.wfile.write(b"\x00" * 16384)
                return None
            if path == "/slow-headers":
                time.sleep(1.5)
                return self._send(200, clip_bytes, "video/mp4")
            if path == "/slow-body":
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(clip_bytes)))
                self.end_headers()
                self.wfile.write(clip_bytes[:1000])
                self.wfile.flush()
                time.sleep(1.5)
                return None
            if path == "/trickle":  # each read is quick, the whole transfer is not
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.end_headers()
                for i in range(0, len(clip_bytes), 2000):
                    self.wfile.write(clip_bytes[i:i + 2000])
                    self.wfile.flush()
                    time.sleep(0.1)
                return None
            if path == "/page":
                return self._send(200, b"<html>hello</html>", "text/html; charset=utf-8")
            if path == "/junk":
                return self._send(200, os.urandom(4096), "application/octet-stream")
            if path == "/empty":
                return self._send(200, b"", "video/mp4")
            if path == "/echo-host":
                body = (self.headers.get("Host") or "").encode()
                return self._send(200, body, "application/octet-stream")
            return self._send(404, b"not found", "text/plain")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def work(tmp_path) -> Path:
    d = tmp_path / "job"
    d.mkdir()
    return d


def listing(d: Path) -> list[str]:
    """Every entry in ``d``, hidden partial files included."""
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


# --------------------------------------------------------------------------- pick_source


def test_pick_source_exactly_one():
    assert pick_source({"video_url": "http://x/a.mp4", "scale": 2}) == ("url", "http://x/a.mp4")
    assert pick_source({"video_path": "/a.mp4", "video_url": None}) == ("path", "/a.mp4")
    assert pick_source({"image_base64": "AAAA"}, prefix="image") == ("base64", "AAAA")
    with pytest.raises(InputError, match="No input was given.*video_path, video_url or video_base64"):
        pick_source({"scale": 2})
    with pytest.raises(InputError, match=r"Several inputs were given \(video_path and video_url\)"):
        pick_source({"video_path": "/a.mp4", "video_url": "http://x/a.mp4"})
    with pytest.raises(InputError, match="video_base64 is empty"):
        pick_source({"video_base64": "  "})
    with pytest.raises(InputError, match="video_url must be a string"):
        pick_source({"video_url": 5})


# --------------------------------------------------------------------------- local paths


def test_path_resolves_and_probes(clip, work):
    src = resolve_source({"video_path": str(clip)}, work_dir=work)
    assert isinstance(src, ResolvedInput)
    assert src.origin == "path" and not src.cleanup
    assert src.path == clip.resolve()
    assert src.info.kind == "video" and (src.info.width, src.info.height) == (160, 96)
    assert src.info.frame_count == 50
    assert listing(work) == []  # a local path is used in place, not copied


def test_path_roots_dotdot_and_symlinks(tmp_path, monkeypatch, clip):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    inside = root / "sub" / "in.mp4"
    inside.write_bytes(clip.read_bytes())
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(clip.read_bytes())
    (root / "escape.mp4").symlink_to(outside)
    (root / "dir_escape").symlink_to(tmp_path)
    (root / "ok_link.mp4").symlink_to(inside)
    configure(monkeypatch, allowed_roots=str(root))

    assert resolve_path(inside) == inside.resolve()
    assert resolve_path(root / "ok_link.mp4") == inside.resolve()
    assert resolve_path(f"{root}/sub/../sub/in.mp4") == inside.resolve()
    for bad in (outside, f"{root}/sub/../../secret.mp4", root / "escape.mp4",
                root / "dir_escape" / "secret.mp4", "/etc/passwd"):
        with pytest.raises(InputError, match="outside the directories this server may read"):
            resolve_path(bad)
    # Outside the roots, existence is not revealed.
    with pytest.raises(InputError, match="outside the directories this server may read"):
        resolve_path(tmp_path / "does-not-exist.mp4")
    with pytest.raises(InputError, match="does not exist"):
        resolve_path(root / "missing.mp4")
    with pytest.raises(InputError, match="is a directory"):
        resolve_path(root / "sub")
    with pytest.raises(InputError, match="empty"):
        resolve_path("")
    with pytest.raises(InputError, match="NUL"):
        resolve_path(f"{root}/a\x00.mp4")


def test_path_without_roots_accepts_any_readable_file(clip, work):
    assert get_settings().allowed_roots == ()
    src = resolve_source(clip, work_dir=work)
    assert src.origin == "path"


# --------------------------------------------------------------------------- base64


def test_base64_raw_and_data_uri(clip, image_png, work):
    raw = base64.b64encode(clip.read_bytes()).decode()
    src = resolve_source({"video_base64": raw}, work_dir=work)
    assert src.origin == "base64" and src.cleanup
    assert src.path.parent == work and src.path.suffix == ".mp4"  # probe fixed the .bin name
    assert src.path.read_bytes() == clip.read_bytes()
    assert src.info.frame_count == 50

    # data URI, wrapped at 76 columns, padding removed
    wrapped = "\n".join(raw[i:i + 76] for i in range(0, len(raw), 76)).rstrip("=")
    src2 = resolve_source({"video_base64": f"data:video/mp4;base64,{wrapped}"}, work_dir=work)
    assert src2.path != src.path and src2.path.read_bytes() == clip.read_bytes()

    png_b64 = base64.urlsafe_b64encode(image_png.read_bytes()).decode()
    img = resolve_source(f"data:image/png;base64,{png_b64}", work_dir=work)
    assert img.info.kind == "image" and img.path.suffix == ".png"
    assert (img.info.width, img.info.height) == (40, 30)
    raw_png = resolve_source({"image_base64": base64.b64encode(image_png.read_bytes())},
                             work_dir=work, prefix="image")
    assert raw_png.path.suffix == ".png" and raw_png.path.name.startswith("image_input")
    src.discard()
    assert not src.path.exists()


@pytest.mark.parametrize(
    ("data", "exc", "message"),
    [
        ("", InputError, "empty"),
        ("  \n ", InputError, "empty"),
        ("data:video/mp4;base64,", InputError, "empty"),
        ("not base64 at all!!", InputError, "not valid base64"),
        ("QUJD=RA==", InputError, "'='"),
        ("QUJDR", InputError, "truncated"),
        ("QQ===", InputError, "padding"),
        ("data:video/mp4,AAAA", InputError, "not base64-encoded"),
        ("data:text/plain;base64,aGVsbG8=", UnsupportedMediaError, "text/plain"),
        ("data:video/mp4;base64AAAA", InputError, "no comma"),
        (base64.b64encode(os.urandom(3000)).decode(), UnsupportedMediaError, "not a video or image"),
    ],
)
def test_base64_refusals(data, exc, message, work):
    with pytest.raises(exc, match=message):
        resolve_source({"video_base64": data}, work_dir=work)
    assert listing(work) == []


def test_base64_size_cap_before_decoding(monkeypatch, work, clip):
    configure(monkeypatch, max_input_bytes=1000)
    # Far over the cap: refused on length alone, before the (invalid) content is looked at.
    with pytest.raises(LimitExceededError, match="max_input_bytes"):
        decode_base64("!" * 100_000, work)
    # Just over the cap: refused from the exact decoded size, nothing written.
    with pytest.raises(LimitExceededError, match=r"1\.0 KiB|1000 bytes"):
        decode_base64(base64.b64encode(b"\x00" * 1100).decode(), work)
    with pytest.raises(LimitExceededError) as info:
        resolve_source({"video_base64": base64.b64encode(clip.read_bytes()).decode()},
                       work_dir=work)
    assert info.value.http_status == 413
    assert listing(work) == []
    # Exactly at the cap is fine.
    path = decode_base64(base64.b64encode(b"\x01" * 1000).decode(), work)
    assert path.stat().st_size == 1000


# --------------------------------------------------------------------------- limits


def test_pixel_bomb_png_refused_from_header(tmp_path, work, monkeypatch):
    bomb = make_png_bomb(tmp_path / "bomb.png", 20000, 20000)
    assert bomb.stat().st_size < 2000
    assert sniff_dimensions(bomb) == (20000, 20000)
    with pytest.raises(LimitExceededError, match=r"20000x20000 \(400\.0 megapixels\).*max_pixels"):
        resolve_source(bomb, work_dir=work)
    # The same as base64: the decoded copy is removed again.
    data = base64.b64encode(bomb.read_bytes()).decode()
    with pytest.raises(LimitExceededError, match="max_pixels"):
        resolve_source({"image_base64": data}, work_dir=work, prefix="image")
    assert listing(work) == []
    # A tall one under a lower configured limit.
    tall = make_png_bomb(tmp_path / "tall.png", 1, 100_000, rows=10)
    configure(monkeypatch, max_pixels=50_000)
    with pytest.raises(LimitExceededError, match=r"1x100000"):
        resolve_source(tall, work_dir=work)


def test_sniff_dimensions_of_real_images(tmp_path):
    from PIL import Image

    img = Image.new("RGB", (37, 23), (10, 200, 30))
    for ext in ("png", "jpg", "gif", "bmp", "webp"):
        p = tmp_path / f"x.{ext}"
        img.save(p)
        assert sniff_dimensions(p) == (37, 23), ext
    img.save(tmp_path / "x_lossless.webp", lossless=True)
    assert sniff_dimensions(tmp_path / "x_lossless.webp") == (37, 23)
    Image.new("RGBA", (37, 23)).save(tmp_path / "x_alpha.webp")  # VP8X container
    assert sniff_dimensions(tmp_path / "x_alpha.webp") == (37, 23)
    (tmp_path / "t.txt").write_text("hello")
    assert sniff_dimensions(tmp_path / "t.txt") is None


def test_duration_frames_pixels_bytes_limits(clip, work, monkeypatch):
    info = resolve_source(clip, work_dir=work).info
    configure(monkeypatch, max_duration_s=1.5)
    with pytest.raises(LimitExceededError, match=r"2\.0 s long.*1\.5 s \(max_duration_s\)"):
        resolve_source(clip, work_dir=work)
    monkeypatch.delenv("REELSMITH_MAX_DURATION_S")
    configure(monkeypatch, max_frames=10)
    with pytest.raises(LimitExceededError, match=r"50 frames.*limit of 10 \(max_frames\)"):
        check_limits(info)
    monkeypatch.delenv("REELSMITH_MAX_FRAMES")
    configure(monkeypatch, max_pixels=10_000)
    with pytest.raises(LimitExceededError, match=r"160x96.*max_pixels"):
        check_header(clip)  # from the container, with FFmpeg's decoder guard on
    with pytest.raises(LimitExceededError, match=r"160x96.*max_pixels"):
        resolve_source(clip, work_dir=work)
    monkeypatch.delenv("REELSMITH_MAX_PIXELS")
    configure(monkeypatch, max_input_bytes=1000)
    with pytest.raises(LimitExceededError, match="max_input_bytes"):
        resolve_source(clip, work_dir=work)
    monkeypatch.delenv("REELSMITH_MAX_INPUT_BYTES")
    configure(monkeypatch, max_frames=0, max_duration_s=0, max_pixels=0, max_input_bytes=0)
    check_limits(info)  # 0 disables every limit


def test_frame_bomb_refused_from_header(tmp_path, work, monkeypatch):
    bomb = make_frame_bomb(tmp_path / "many.mkv", frames=100_000)
    configure(monkeypatch, max_frames=20_000)
    with pytest.raises(LimitExceededError, match=r"100000 frames.*max_frames"):
        resolve_source(bomb, work_dir=work)


def test_non_media_and_wrong_kind(tmp_path, work, image_png, clip):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    with pytest.raises(UnsupportedMediaError) as info:
        resolve_source(fake, work_dir=work)
    assert info.value.http_status == 415
    with pytest.raises(UnsupportedMediaError, match="must be a video, but the file is an image"):
        resolve_source(image_png, work_dir=work, kinds=("video",))
    with pytest.raises(UnsupportedMediaError, match="must be an image, but the file is a video"):
        resolve_source(clip, work_dir=work, kinds=("image",))


def test_upload_is_trusted_but_checked(tmp_path, monkeypatch, clip, work):
    configure(monkeypatch, allowed_roots=str(tmp_path / "elsewhere"))
    src = resolve_source(Upload(clip), work_dir=work)
    assert src.origin == "upload" and not src.cleanup and src.info.kind == "video"
    configure(monkeypatch, max_duration_s=1)
    with pytest.raises(LimitExceededError):
        resolve_source(Upload(clip), work_dir=work)
    # A request mapping can never name an upload.
    with pytest.raises(InputError, match="No input was given"):
        resolve_source({"upload": str(clip)}, work_dir=work)


# --------------------------------------------------------------------------- URLs


def test_url_download_into_work_dir(server, work, monkeypatch, tmp_path, clip):
    allow_local(monkeypatch)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    src = resolve_source({"video_url": f"{server}/clip.mp4"}, work_dir=work)
    assert src.origin == "url" and src.cleanup
    assert src.path.parent == work and src.path.name == "clip.mp4"
    assert src.path.read_bytes() == clip.read_bytes()
    assert src.info.frame_count == 50 and src.info.has_audio
    assert listing(cwd) == []  # nothing lands in the process's working directory
    # Same name again: a fresh file, the first one untouched.
    again = resolve_source(f"{server}/clip.mp4", work_dir=work)
    assert again.path.name == "clip-1.mp4" and src.path.exists()


def test_url_names_are_safe_and_keep_extensions(server, work, monkeypatch):
    allow_local(monkeypatch)
    named = resolve_source(f"{server}/media/My%20Clip%20(1).mp4", work_dir=work)
    assert named.path.name == "My_Clip_1.mp4"
    traversal = resolve_source(f"{server}/..%2F..%2Fescape.mp4", work_dir=work)
    assert traversal.path.parent == work and traversal.path.name == "escape.mp4"
    noext = resolve_source(f"{server}/noext", work_dir=work)
    assert noext.path.suffix == ".mp4"  # from Content-Type
    octet = resolve_source(f"{server}/download?id=3", work_dir=work)
    assert octet.path.suffix == ".mp4"  # from the probe
    still = resolve_source(f"{server}/still", work_dir=work)
    assert still.path.suffix == ".png" and still.info.kind == "image"
    assert not [n for n in listing(work) if n.startswith(".")]


def test_loopback_refused_without_allowance(server, work):
    with pytest.raises(InputError, match=r"loopback address \(127\.0\.0\.1\), which is not allowed"):
        resolve_source({"video_url": f"{server}/clip.mp4"}, work_dir=work)
    port = server.rsplit(":", 1)[1]
    for alias in (f"http://2130706433:{port}/clip.mp4", f"http://localhost:{port}/clip.mp4",
                  f"http://[::ffff:127.0.0.1]:{port}/clip.mp4", f"http://0.0.0.0:{port}/clip.mp4",
                  f"http://[::1]:{port}/clip.mp4"):
        with pytest.raises(InputError, match="not allowed"):
            download_url(alias, work)
    assert listing(work) == []


def test_allow_private_and_cidr(server, work, monkeypatch):
    configure(monkeypatch, url_allow_private="true")
    assert download_url(f"{server}/clip.mp4", work).exists()
    with pytest.raises(InputError, match=r"cloud metadata address \(169\.254\.169\.254\)"):
        download_url("http://169.254.169.254/latest/meta-data/", work)
    monkeypatch.delenv("REELSMITH_URL_ALLOW_PRIVATE")
    configure(monkeypatch, url_allow_hosts="10.0.0.0/8, 127.0.0.0/8")
    assert download_url(f"{server}/clip.mp4", work).exists()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.5/video.mp4", r"private network address \(10\.0\.0\.5\)"),
        ("http://192.168.1.20/v.mp4", "private network address"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
        ("http://[fe80::1]/v.mp4", "link-local address"),
        ("http://[fd00::5]/v.mp4", "private network address"),
        ("http://[::ffff:10.0.0.5]/v.mp4", r"private network address \(::ffff:10\.0\.0\.5\)"),
        ("http://0.0.0.0/v.mp4", "unspecified address"),
        ("http://224.0.0.1/v.mp4", "multicast address"),
        ("http://100.64.1.1/v.mp4", "shared"),
    ],
)
def test_private_addresses_refused_before_connecting(url, reason, work):
    with pytest.raises(InputError, match=reason):
        download_url(url, work)
    assert listing(work) == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.mp4",
                                 "gopher://127.0.0.1:70/_x", "javascript:alert(1)"])
def test_non_http_schemes_refused(url, work):
    with pytest.raises(InputError, match="Only http and https URLs"):
        resolve_source({"video_url": url}, work_dir=work)


def test_classify_addresses():
    public = ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "1.1.1.1"]
    for a in public:
        assert classify(ipaddress.ip_address(a)) is None, a
    refused = {
        "127.0.0.1": "loopback", "127.5.5.5": "loopback", "::1": "loopback",
        "::ffff:127.0.0.1": "loopback", "10.1.2.3": "private", "172.16.0.1": "private",
        "192.168.0.1": "private", "fc00::1": "private", "169.254.1.1": "link-local",
        "fe80::1": "link-local", "169.254.169.254": "metadata", "fd00:ec2::254": "metadata",
        "0.0.0.0": "unspecified", "::": "unspecified", "239.1.1.1": "multicast",
        "ff02::1": "multicast", "100.64.0.1": "shared", "240.0.0.1": "reserved",
        "2002:7f00:1::1": "loopback",  # 6to4 wrapping 127.0.0.1
        "64:ff9b::a00:5": "private",  # NAT64 wrapping 10.0.0.5
        "::ffff:169.254.169.254": "metadata",
    }
    for a, reason in refused.items():
        assert classify(ipaddress.ip_address(a)) == reason, a


def test_redirects_followed_and_rechecked(server, work, monkeypatch):
    allow_local(monkeypatch)
    ok = download_url(f"{server}/redirect?n=5", work)  # 5 redirects: the limit
    assert ok.name == "clip.mp4"
    with pytest.raises(InputError, match="redirected more than 5 times"):
        download_url(f"{server}/redirect?n=6", work)
    with pytest.raises(InputError, match="redirected more than 5 times"):
        download_url(f"{server}/loop", work)
    # The first host is allowed; the redirect target is not.
    with pytest.raises(InputError, match=r"private network address \(10\.0\.0\.5\)"):
        download_url(f"{server}/to-private", work)
    with pytest.raises(InputError, match="cloud metadata address"):
        download_url(f"{server}/to-metadata", work)
    with pytest.raises(InputError, match="Only http and https"):
        download_url(f"{server}/to-file", work)
    assert listing(work) == ["clip.mp4"]


def test_size_cap_on_download(server, work, monkeypatch, clip):
    allow_local(monkeypatch)
    with pytest.raises(LimitExceededError, match=r"10\.0 GiB, more than the limit of 2\.0 GiB"):
        download_url(f"{server}/huge", work)
    configure(monkeypatch, max_input_bytes=100_000)
    with pytest.raises(LimitExceededError, match="the download was stopped"):
        download_url(f"{server}/stream-big", work)
    configure(monkeypatch, max_input_bytes=clip.stat().st_size - 1)
    with pytest.raises(LimitExceededError, match="more than the limit"):
        resolve_source(f"{server}/clip.mp4", work_dir=work)  # refused from Content-Length
    assert listing(work) == []


def test_timeouts(server, work, monkeypatch):
    allow_local(monkeypatch, url_timeout_s=0.4)
    with pytest.raises(InputError, match=r"did not answer within 0\.4 s"):
        download_url(f"{server}/slow-headers", work)
    with pytest.raises(InputError, match=r"stopped sending data for more than 0\.4 s"):
        download_url(f"{server}/slow-body", work)
    configure(monkeypatch, url_total_timeout_s=0.25)
    with pytest.raises(InputError, match=r"took longer than 0\.25 s"):
        download_url(f"{server}/trickle", work)
    assert listing(work) == []


def test_http_errors_and_non_media(server, work, monkeypatch):
    allow_local(monkeypatch)
    with pytest.raises(InputError, match="404 Not Found"):
        resolve_source(f"{server}/nothing-here.mp4", work_dir=work)
    with pytest.raises(UnsupportedMediaError, match="text/html"):
        resolve_source(f"{server}/page", work_dir=work)
    with pytest.raises(UnsupportedMediaError, match="empty"):
        resolve_source(f"{server}/empty", work_dir=work)
    with pytest.raises(UnsupportedMediaError) as info:
        resolve_source(f"{server}/junk", work_dir=work)
    assert info.value.http_status == 415
    assert listing(work) == []


def test_connection_pinned_to_checked_address(server, work, monkeypatch):
    """DNS is asked once per hop; the connection goes to that answer with the original Host.

    A rebinding resolver answers 127.0.0.1 first and a refused address afterwards: if
    the HTTP client resolved the name again, it would reach 10.0.0.5 (or be refused).
    """
    real = socket.getaddrinfo
    calls: list[str] = []

    def rebinding(host, port, *args, **kwargs):
        if host == "media.rebind.test":
            calls.append(host)
            ip = "127.0.0.1" if len(calls) == 1 else "10.0.0.5"
            return real(ip, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    allow_local(monkeypatch)
    port = server.rsplit(":", 1)[1]
    path = download_url(f"http://media.rebind.test:{port}/echo-host", work)
    assert path.read_text() == f"media.rebind.test:{port}"
    assert calls == ["media.rebind.test"]


@pytest.fixture
def fake_dns(monkeypatch):
    """Map test host names to 127.0.0.1 (everything else resolves normally)."""
    real = socket.getaddrinfo
    names = {"media.test", "other.test"}

    def resolver(host, port, *args, **kwargs):
        return real("127.0.0.1" if host in names else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """HTTPS on 127.0.0.1 with a self-signed certificate for media.test only."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=media.test", "-addext", "subjectAltName=DNS:media.test"],
        check=True, capture_output=True,
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = (self.headers.get("Host") or "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    client_ctx = ssl.create_default_context(cafile=str(cert))
    yield httpd.server_address[1], client_ctx
    httpd.shutdown()
    httpd.server_close()


def test_https_pinned_with_sni_and_certificate_name(tls_server, fake_dns, work, monkeypatch):
    port, ctx = tls_server
    allow_local(monkeypatch)
    path = download_url(f"https://media.test:{port}/x", work, verify=ctx)
    assert path.read_text() == f"media.test:{port}"
    # Same address, other name: the certificate does not match, so it is refused.
    for url in (f"https://other.test:{port}/x", f"https://127.0.0.1:{port}/x"):
        with pytest.raises(InputError, match="TLS certificate could not be verified"):
            download_url(url, work, verify=ctx)
    assert listing(work) == [path.name]
