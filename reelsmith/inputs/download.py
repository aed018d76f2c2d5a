"""URL downloads with an SSRF guard, timeouts and a size cap.

* only ``http`` and ``https``;
* every hop (redirects are followed by hand, at most :data:`MAX_REDIRECTS`) is checked by
  :mod:`reelsmith.inputs.netguard`;
* the connection goes to the address that was checked (the URL's host is replaced by
  the IP; the ``Host`` header and TLS SNI/certificate check keep the original name), so a
  DNS answer that changes between the check and the connection (rebinding) cannot move
  the request to another address;
* connect/read timeouts are ``settings.url_timeout_s``; the whole transfer is bounded by
  ``settings.url_total_timeout_s``;
* ``max_input_bytes`` is applied to ``Content-Length`` up front and to the bytes as they
  stream in; proxies from the environment are ignored;
* the body is written under a hidden temporary name and renamed when complete; a
  failure leaves nothing behind.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx

from reelsmith.config import Settings, get_settings
from reelsmith.errors import InputError, LimitExceededError, UnsupportedMediaError
from reelsmith.inputs.limits import format_bytes
from reelsmith.inputs.naming import extension_for_mime, finalize, name_from_url_path, partial_path
from reelsmith.inputs.netguard import IPAddress, resolve_checked

MAX_REDIRECTS = 5
_REDIRECT_CODES = {301, 302, 303, 307, 308}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_USER_AGENT = "reelsmith-fetch/1"
# Content types that are certainly not media: refuse before downloading the body.
_NOT_MEDIA_PREFIXES = ("text/", "application/json", "application/xml", "application/xhtml")


def _display_url(url: httpx.URL) -> str:
    """The URL without credentials or query string (safe to put in an error message)."""
    shown = url.copy_with(userinfo=b"", query=None, fragment=None)
    s = str(shown)
    return s if len(s) <= 200 else s[:197] + "..."


def parse_http_url(url: str | httpx.URL) -> httpx.URL:
    """Parse and validate an http(s) URL, refusing other schemes and host-less URLs."""
    if isinstance(url, str):
        text = url.strip()
        if not text:
            raise InputError("The URL is empty.")
        if any(ord(c) < 0x20 for c in text):
            raise InputError("The URL contains control characters, which are not allowed.")
        try:
            parsed = httpx.URL(text)
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise InputError(f"The URL is not valid ({exc}).") from None
    else:
        parsed = url
    scheme = parsed.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        shown = scheme or "no scheme"
        raise InputError(f"Only http and https URLs can be downloaded; this one uses {shown}.")
    if not parsed.host:
        raise InputError("The URL has no host name.")
    return parsed


def _host_header(url: httpx.URL) -> str:
    host = url.raw_host.decode("ascii")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = url.port
    if port is not None and port != _DEFAULT_PORTS[url.scheme]:
        host = f"{host}:{port}"
    return host


def _pinned_request(client: httpx.Client, url: httpx.URL, ip: IPAddress) -> httpx.Request:
    """A GET for ``url`` that connects to ``ip`` but presents the original host name."""
    host = url.raw_host.decode("ascii")
    extensions: dict = {}
    if url.scheme == "https":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            extensions["sni_hostname"] = host  # TLS SNI and certificate name
    target = url.copy_with(host=str(ip))
    headers = {
        "Host": _host_header(url),
        "User-Agent": _USER_AGENT,
        "Accept": "video/*, image/*, application/octet-stream;q=0.8, */*;q=0.5",
        "Accept-Encoding": "identity",
    }
    return client.build_request("GET", target, headers=headers, extensions=extensions)


def _send(client: httpx.Client, url: httpx.URL, addrs: list[IPAddress],
          settings: Settings) -> httpx.Response:
    """Send to each checked address in turn until one connects."""
    last: Exception | None = None
    for ip in addrs:
        try:
            return client.send(_pinned_request(client, url, ip), stream=True)
        except httpx.ConnectTimeout as exc:
            last = exc
        except httpx.ConnectError as exc:
            last = exc
    host = url.host
    if isinstance(last, httpx.ConnectTimeout):
        raise InputError(
            f"Connecting to {host} timed out after {settings.url_timeout_s:g} s."
        ) from None
    if "CERTIFICATE_VERIFY_FAILED" in str(last):
        raise InputError(
            f"Could not connect to {host}: its TLS certificate could not be verified ({last})."
        ) from None
    raise InputError(f"Could not connect to {host} ({last}).") from None


def download_url(
    url: str,
    dest_dir: str | os.PathLike,
    settings: Settings | None = None,
    *,
    verify: bool | ssl.SSLContext = True,
) -> Path:
    """Download ``url`` into a new file in ``dest_dir`` and return its path.

    The name comes from the URL path (made safe) with an extension from the URL or the
    ``Content-Type``; the caller's probe may correct the extension later. ``verify`` is
    the TLS verification (an ``ssl.SSLContext`` trusts a private CA); certificates are
    always checked against the URL's host name, not the pinned address.
    """
    s = settings or get_settings()
    dest = Path(dest_dir)
    cap = s.max_input_bytes
    timeout = httpx.Timeout(s.url_timeout_s) if s.url_timeout_s else httpx.Timeout(None)
    total = s.url_total_timeout_s
    deadline = time.monotonic() + total if total else None
    current = parse_http_url(url)
    first = current
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout,
                      verify=verify) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            port = current.port or _DEFAULT_PORTS[current.scheme]
            addrs = resolve_checked(current.raw_host.decode("ascii"), port, s)
            try:
                resp = _send(client, current, addrs, s)
            except httpx.TimeoutException:
                raise InputError(
                    f"The server at {current.host} did not answer within {s.url_timeout_s:g} s."
                ) from None
            except httpx.HTTPError as exc:
                raise InputError(f"Downloading {_display_url(current)} failed ({exc}).") from None
            try:
                if resp.status_code in _REDIRECT_CODES:
                    location = resp.headers.get("location")
                    if not location:
                        raise InputError(
                            f"The server at {current.host} sent a redirect without a location."
                        )
                    current = parse_http_url(urljoin(str(current), location.strip()))
                    continue
                if resp.status_code >= 400 or resp.status_code < 200:
                    raise InputError(
                        f"The server answered {resp.status_code} {resp.reason_phrase} for "
                        f"{_display_url(current)}."
                    )
                return _save_body(resp, current, dest, s, cap, deadline)
            except httpx.TimeoutException:
                raise InputError(
                    f"The server at {current.host} stopped sending data for more than "
                    f"{s.url_timeout_s:g} s."
                ) from None
            except httpx.HTTPError as exc:
                raise InputError(f"Downloading {_display_url(current)} failed ({exc}).") from None
            finally:
                resp.close()
    raise InputError(
        f"The URL {_display_url(first)} redirected more than {MAX_REDIRECTS} times."
    )


def _save_body(resp: httpx.Response, url: httpx.URL, dest: Path, s: Settings, cap: int,
               deadline: float | None) -> Path:
    ctype = resp.headers.get("content-type", "")
    media_type = ctype.split(";", 1)[0].strip().lower()
    if media_type.startswith(_NOT_MEDIA_PREFIXES):
        raise UnsupportedMediaError(
            f"The URL {_display_url(url)} returned {media_type}, not a video or image."
        )
    length = resp.headers.get("content-length")
    if cap and length and length.strip().isdigit() and int(length) > cap:
        raise LimitExceededError(
            f"The file at the URL is {format_bytes(int(length))}, more than the limit of "
            f"{format_bytes(cap)} (max_input_bytes)."
        )
    stem, ext = name_from_url_path(url.path)
    ext = ext or extension_for_mime(media_type) or ".bin"
    part = partial_path(dest)
    received = 0
    try:
        with open(part, "wb") as fh:
            for chunk in resp.iter_bytes():
                received += len(chunk)
                if cap and received > cap:
                    raise LimitExceededError(
                        f"The file at the URL is larger than the limit of {format_bytes(cap)} "
                        "(max_input_bytes); the download was stopped."
                    )
                if deadline is not None and time.monotonic() > deadline:
                    raise InputError(
                        f"Downloading {_display_url(url)} took longer than "
                        f"{s.url_total_timeout_s:g} s and was stopped."
                    )
                fh.write(chunk)
        if received == 0:
            raise UnsupportedMediaError(f"The URL {_display_url(url)} returned an empty file.")
        if length and length.strip().isdigit() and received < int(length):
            raise InputError(f"The download of {_display_url(url)} ended early.")
        return finalize(part, dest, stem, ext)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
