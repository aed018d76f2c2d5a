"""Base64 inputs: raw base64 text or ``data:<media type>;base64,<data>`` URIs.

Validation is strict (only the base64 alphabet, whitespace ignored, missing ``=``
padding tolerated, URL-safe ``-_`` accepted) and the size cap is applied to the
*encoded* length before a single byte is decoded.
"""

from __future__ import annotations

import binascii
import os
import re
from pathlib import Path

from reelsmith.config import Settings, get_settings
from reelsmith.errors import InputError, UnsupportedMediaError
from reelsmith.inputs.limits import check_byte_size
from reelsmith.inputs.naming import extension_for_mime, finalize, partial_path

_WS = re.compile(rb"\s+")
_STD = re.compile(rb"[A-Za-z0-9+/]*")
_URLSAFE = re.compile(rb"[A-Za-z0-9\-_]*")
_CHUNK = 4 * 1024 * 1024  # encoded characters per decode step (multiple of 4)


def parse_data_uri(text: str) -> tuple[str | None, str]:
    """``data:video/mp4;base64,AAAA`` -> ("video/mp4", "AAAA"); raw base64 -> (None, text).

    Refuses data URIs that are not base64 or whose media type is not video/image.
    """
    stripped = text.lstrip()
    if stripped[:5].lower() != "data:":
        return None, text
    header, sep, payload = stripped[5:].partition(",")
    if not sep:
        raise InputError("The data URI has no comma separating its header from the data.")
    parts = [p.strip() for p in header.split(";")]
    media_type = parts[0].lower() or None
    if "base64" not in (p.lower() for p in parts[1:]):
        raise InputError("The data URI is not base64-encoded (its header lacks ';base64').")
    if media_type and not (
        media_type.startswith(("video/", "image/"))
        or media_type in ("application/octet-stream", "application/mp4")
    ):
        raise UnsupportedMediaError(
            f"The data URI has media type {media_type}; only video/... and image/... are accepted."
        )
    return media_type, payload


def _estimated_size(n_chars: int, padding: int) -> int:
    return n_chars * 3 // 4 - padding


def decode_base64(
    data: str | bytes,
    dest_dir: str | os.PathLike,
    settings: Settings | None = None,
    *,
    stem: str = "input",
) -> Path:
    """Decode ``data`` (raw base64 or a data URI) into a new file in ``dest_dir``.

    The file's extension comes from the data URI's media type (``.bin`` when unknown; the
    caller's probe corrects it). Nothing is left behind when decoding fails.
    """
    s = settings or get_settings()
    dest = Path(dest_dir)
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("ascii")
        except UnicodeDecodeError:
            raise InputError("The base64 input contains non-ASCII bytes, so it is not base64.") from None
    elif isinstance(data, str):
        text = data
    else:
        raise InputError(f"The base64 input must be a string, not {type(data).__name__}.")
    media_type, payload = parse_data_uri(text)
    cap = s.max_input_bytes
    # Cheap early refusal on the raw length (whitespace can only make it look bigger, so
    # allow generous slack here and decide precisely after stripping it).
    if cap and _estimated_size(len(payload), 0) > 2 * cap + 1024:
        check_byte_size(_estimated_size(len(payload), 0), s, what="The base64 input")
    try:
        raw = payload.encode("ascii")
    except UnicodeEncodeError:
        raise InputError("The base64 input contains characters outside the base64 alphabet.") from None
    raw = _WS.sub(b"", raw)
    if not raw:
        raise InputError("The base64 input is empty.")
    body = raw.rstrip(b"=")
    pad_given = len(raw) - len(body)
    if pad_given > 2:
        raise InputError("The base64 input has too much '=' padding.")
    if _STD.fullmatch(body):
        altchars = None
    elif _URLSAFE.fullmatch(body):
        altchars = b"-_"
    else:
        bad = next((chr(c) for c in body if not (chr(c).isalnum() or chr(c) in "+/-_")), None)
        if bad is None:
            raise InputError("The base64 input mixes the standard and URL-safe alphabets.")
        raise InputError(
            f"The base64 input contains the character {bad!r}, which is not valid base64."
        )
    if len(body) % 4 == 1:
        raise InputError("The base64 input is truncated (its length is not valid base64).")
    padding = (-len(body)) % 4
    check_byte_size(_estimated_size(len(body) + padding, padding), s, what="The decoded input")
    if altchars:
        body = body.translate(bytes.maketrans(b"-_", b"+/"))
    body += b"=" * padding
    ext = extension_for_mime(media_type) or ".bin"
    part = partial_path(dest)
    try:
        with open(part, "wb") as fh:
            for i in range(0, len(body), _CHUNK):
                fh.write(binascii.a2b_base64(body[i:i + _CHUNK], strict_mode=True))
        return finalize(part, dest, stem, ext)
    except binascii.Error as exc:
        part.unlink(missing_ok=True)
        raise InputError(f"The base64 input is not valid base64 ({exc}).") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
