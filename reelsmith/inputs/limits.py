"""Input limits: bytes, pixels, duration, frame count.

Every check happens before anything is decoded in full. Images get an extra check from
their file header (:func:`sniff_dimensions`), because FFmpeg's probe decodes a whole
image: a 250 KB PNG that claims 16000x16000 pixels would cost 256 MB before the pixel
limit could look at it. A limit of 0 disables that limit.
"""

from __future__ import annotations

import struct
from pathlib import Path

import av

from reelsmith.config import Settings, get_settings
from reelsmith.errors import LimitExceededError
from reelsmith.media.probe import MediaInfo

_GUARDED_STREAMS = 32  # streams that get the decoder guard (real files have a handful)


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _format_pixels(w: int, h: int) -> str:
    return f"{w}x{h} ({w * h / 1e6:.1f} megapixels)"


def _format_seconds(s: float) -> str:
    if s >= 3600:
        return f"{s:.0f} s ({s / 3600:.1f} h)"
    return f"{s:.1f} s"


def check_byte_size(n: int, settings: Settings | None = None, *, what: str = "The input") -> None:
    """Refuse ``n`` bytes if over ``max_input_bytes``."""
    cap = (settings or get_settings()).max_input_bytes
    if cap and n > cap:
        raise LimitExceededError(
            f"{what} is {format_bytes(n)}, more than the limit of {format_bytes(cap)} "
            "(max_input_bytes)."
        )


def check_pixels(width: int, height: int, settings: Settings | None = None) -> None:
    cap = (settings or get_settings()).max_pixels
    if cap and width * height > cap:
        raise LimitExceededError(
            f"The picture is {_format_pixels(width, height)}, more than the limit of "
            f"{cap / 1e6:.1f} megapixels per frame (max_pixels)."
        )


def check_limits(info: MediaInfo, settings: Settings | None = None) -> None:
    """Refuse media whose probed header exceeds a configured limit."""
    s = settings or get_settings()
    if info.size_bytes:
        check_byte_size(info.size_bytes, s)
    check_pixels(info.width, info.height, s)
    if s.max_duration_s and info.duration > s.max_duration_s:
        raise LimitExceededError(
            f"The video is {_format_seconds(info.duration)} long, more than the limit of "
            f"{_format_seconds(s.max_duration_s)} (max_duration_s)."
        )
    if s.max_frames and info.frame_count > s.max_frames:
        raise LimitExceededError(
            f"The video has {info.frame_count} frames, more than the limit of {s.max_frames} "
            "(max_frames)."
        )


def check_header(path: Path, settings: Settings | None = None) -> None:
    """Pixel limit from the file's own headers, before FFmpeg decodes a picture.

    Images: parsed here (:func:`sniff_dimensions`). Other containers: opened with
    FFmpeg's decoder-side ``max_pixels`` guard, so stream discovery reads the declared
    size without decoding a frame that is over the limit.
    """
    s = settings or get_settings()
    if not s.max_pixels:
        return
    dims = sniff_dimensions(path)
    if dims is None:
        dims = _guarded_container_dimensions(path, s.max_pixels)
    if dims is not None:
        check_pixels(dims[0], dims[1], s)


def _guarded_container_dimensions(path: Path, max_pixels: int) -> tuple[int, int] | None:
    """The largest video stream size a container declares, opened with decoders capped at
    ``max_pixels``; None when it cannot be opened (the probe then reports why)."""
    guard = [{"max_pixels": str(max_pixels)}] * _GUARDED_STREAMS
    try:
        with av.open(str(path), stream_options=guard, metadata_errors="ignore") as c:
            sizes = [(v.codec_context.width, v.codec_context.height) for v in c.streams.video]
    except (av.FFmpegError, OSError, ValueError):
        return None
    sizes = [wh for wh in sizes if wh[0] > 0 and wh[1] > 0]
    return max(sizes, key=lambda wh: wh[0] * wh[1]) if sizes else None


# --- image header parsing ---------------------------------------------------------------

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def sniff_dimensions(path: Path) -> tuple[int, int] | None:
    """(width, height) declared by a PNG, GIF, BMP, WebP or JPEG header; None otherwise.

    Reads a few bytes (JPEG: hops over segments); never decodes pixel data.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
            if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
                return struct.unpack(">II", head[16:24])
            if head[:6] in (b"GIF87a", b"GIF89a"):
                return struct.unpack("<HH", head[6:10])
            if head[:2] == b"BM" and len(head) >= 26:
                dib = struct.unpack("<I", head[14:18])[0]
                if dib == 12:
                    return struct.unpack("<HH", head[18:22])
                if dib >= 40:
                    w, h = struct.unpack("<ii", head[18:26])
                    return abs(w), abs(h)
                return None
            if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                return _webp_dims(head)
            if head[:2] == b"\xff\xd8":
                return _jpeg_dims(fh)
    except (OSError, struct.error):
        return None
    return None


def _webp_dims(head: bytes) -> tuple[int, int] | None:
    kind = head[12:16]
    if kind == b"VP8X" and len(head) >= 30:
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return w, h
    if kind == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _jpeg_dims(fh) -> tuple[int, int] | None:
    fh.seek(2)
    for _ in range(256):  # segments before the frame header; real files have a handful
        b = fh.read(1)
        if b != b"\xff":
            return None
        while b == b"\xff":  # fill bytes
            b = fh.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # standalone markers
        if marker == 0xD9 or marker == 0xDA:
            return None  # end of image / start of scan without a frame header
        seg = fh.read(2)
        if len(seg) < 2:
            return None
        length = struct.unpack(">H", seg)[0]
        if marker in _JPEG_SOF:
            data = fh.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return w, h
        fh.seek(length - 2, 1)
    return None
