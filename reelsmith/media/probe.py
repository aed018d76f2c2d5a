"""Probe a media file: what is in it, without decoding it all.

Still images (PNG, JPEG, WebP, BMP, TIFF, single-frame GIF) are recognised by their
content with Pillow and reported with ``kind="image"``; everything else goes through
FFmpeg. For videos the first frame is decoded: it is the only reliable place where
PyAV exposes the display matrix (phone rotation), and it proves the file is decodable.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from reelsmith.errors import InputError, UnsupportedMediaError
from reelsmith.media.audio import canonical_codec
from reelsmith.media.color import UNSPECIFIED, ColorInfo

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
# Pillow format name -> our codec name.
_PIL_FORMATS = {"PNG": "png", "JPEG": "mjpeg", "MPO": "mjpeg", "WEBP": "webp", "BMP": "bmp",
                "TIFF": "tiff", "GIF": "gif"}
_IMAGE_CODECS = {"png", "mjpeg", "webp", "bmp", "tiff", "jpegls", "gif"}
# FFmpeg "video" streams that are really text or data, not pictures.
_NOT_PICTURES = {"ansi", "bintext", "xbin", "idf", "tty"}
# Do not decode a first frame bigger than this while probing (decompression bombs).
_PROBE_DECODE_MAX_PIXELS = 16384 * 16384
_VFR_PACKETS = 240  # packets whose timestamps are looked at to detect variable frame rate
_REORDER_DEPTH = 16  # most frames an encoder reorders (H.264/HEVC B-pyramids stay below it)

# EXIF orientation -> (counter-clockwise rotation, mirrored) of the *display transform*.
EXIF_ROTATION = {1: 0, 2: 0, 3: 180, 4: 180, 5: 270, 6: 270, 7: 90, 8: 90}


@dataclass
class MediaInfo:
    """What a file holds.

    ``width``/``height`` are the stored (coded) picture size; ``display_size`` is what a
    viewer shows after ``rotation`` (video display matrix) or ``exif_orientation``
    (images). :class:`~reelsmith.media.reader.VideoReader` and
    :func:`~reelsmith.media.images.read_image` return pixels in display orientation.
    ``start_time`` is the video stream's first presentation time in seconds: frame times
    from the reader count from it, and the writer uses it to keep audio in sync.
    """

    path: str
    kind: str  # "video" or "image"
    width: int
    height: int
    fps: Fraction | None = None  # nominal (average) frame rate
    duration: float = 0.0  # seconds (video stream, else container)
    frame_count: int = 0  # from the header when known, else estimated
    codec: str = ""
    pix_fmt: str = ""
    bit_depth: int = 8
    has_alpha: bool = False
    color: ColorInfo = field(default_factory=ColorInfo)
    rotation: int = 0  # counter-clockwise degrees to apply for display (0/90/180/270)
    has_audio: bool = False
    audio_codec: str | None = None
    audio_duration: float | None = None
    variable_frame_rate: bool = False
    container: str = ""
    size_bytes: int = 0
    start_time: float = 0.0
    audio_start_time: float | None = None
    exif_orientation: int = 1  # images only: the EXIF Orientation tag (1 = upright)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) after rotation / EXIF orientation."""
        if self.rotation % 180 != 0:
            return self.height, self.width
        return self.width, self.height

    @property
    def is_image(self) -> bool:
        return self.kind == "image"

    def summary(self) -> dict:
        d = asdict(self)
        d["fps"] = float(self.fps) if self.fps else None
        d["fps_exact"] = f"{self.fps.numerator}/{self.fps.denominator}" if self.fps else None
        d["color"] = self.color.describe()
        d["display_width"], d["display_height"] = self.display_size
        return d


def _bit_depth(pix_fmt: str) -> int:
    try:
        fmt = av.VideoFormat(pix_fmt)
        return max(c.bits for c in fmt.components) if fmt.components else 8
    except Exception:  # noqa: BLE001 - unknown formats are 8-bit for our purposes
        return 8


def _has_alpha(pix_fmt: str) -> bool:
    try:
        return bool(av.VideoFormat(pix_fmt).has_alpha)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        return pix_fmt.startswith(("yuva", "rgba", "bgra", "argb", "abgr", "gbrap", "ya"))


def _check_path(p: Path) -> None:
    if not p.exists():
        raise InputError(f"The input file {p} does not exist.")
    if p.is_dir():
        raise InputError(f"The input {p} is a directory, not a media file.")
    if p.stat().st_size == 0:
        raise UnsupportedMediaError(f"The input file {p.name} is empty.")


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    """Open for reading, turning FFmpeg's errors into a sentence about the input."""
    p = Path(path)
    _check_path(p)
    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UnsupportedMediaError(
            f"The input file {p.name} is not a video or image that can be read ({reason})."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnsupportedMediaError(
            f"The input file {p.name} could not be opened ({exc})."
        ) from None


def probe(path: str | os.PathLike) -> MediaInfo:
    """Describe ``path``.

    Raises :class:`InputError` for a missing path or a directory and
    :class:`UnsupportedMediaError` for anything that holds no readable picture (empty,
    corrupt or truncated beyond use, audio only, not media at all).
    """
    p = Path(path)
    _check_path(p)
    info = _probe_image(p)
    if info is not None:
        return info
    with open_container(p) as c:
        return _probe_video(p, c)


def _probe_image(p: Path) -> MediaInfo | None:
    """Recognise a still image by content (Pillow); None if it is not one."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - pillow is a core dependency
        return None
    try:
        with Image.open(p) as im:
            fmt = im.format or ""
            if fmt not in _PIL_FORMATS:
                return None
            if getattr(im, "n_frames", 1) > 1 and fmt in ("GIF", "WEBP"):
                return None  # animated: FFmpeg's business (or unsupported)
            mode = im.mode
            has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
                mode == "P" and "transparency" in im.info
            )
            depth = 16 if mode.startswith("I;16") or mode in ("I",) else 8
            if fmt == "PNG":
                depth = max(depth, _png_bit_depth(p))
            try:
                orientation = int(im.getexif().get(0x0112, 1) or 1)
            except Exception:  # noqa: BLE001 - broken EXIF: treat as upright
                orientation = 1
            if orientation not in EXIF_ROTATION:
                orientation = 1
            info = MediaInfo(
                path=str(p), kind="image", width=im.width, height=im.height,
                codec=_PIL_FORMATS[fmt], pix_fmt=mode.lower(), bit_depth=depth,
                has_alpha=has_alpha, container=fmt.lower(), size_bytes=p.stat().st_size,
                frame_count=1, rotation=EXIF_ROTATION[orientation],
                exif_orientation=orientation,
            )
            if im.width <= 0 or im.height <= 0:
                raise UnsupportedMediaError(f"The image {p.name} has no pixels.")
            return info
    except UnidentifiedImageError:
        return None
    except UnsupportedMediaError:
        raise
    except Image.DecompressionBombError:
        raise UnsupportedMediaError(
            f"The image {p.name} is too large to open safely (decompression bomb guard)."
        ) from None
    except (OSError, SyntaxError, ValueError):
        return None


def _png_bit_depth(p: Path) -> int:
    with open(p, "rb") as fh:
        head = fh.read(26)
    if len(head) >= 25 and head[12:16] == b"IHDR":
        return int(head[24])
    return 8


def _probe_video(p: Path, c: av.container.InputContainer) -> MediaInfo:
    if not c.streams.video:
        raise UnsupportedMediaError(
            f"The input file {p.name} has no video or image stream"
            + (" (it holds audio only)." if c.streams.audio else ".")
        )
    vs = c.streams.video[0]
    cc = vs.codec_context
    fmt_name = c.format.name or ""
    if cc.name in _NOT_PICTURES or fmt_name in _NOT_PICTURES:
        raise UnsupportedMediaError(f"The input file {p.name} is not a video or image.")
    is_image = (
        cc.name in _IMAGE_CODECS and (vs.frames or 0) <= 1
         and ("image2" in fmt_name or fmt_name.endswith("_pipe"))
    )
    pix_fmt = cc.pix_fmt or ""
    if cc.width <= 0 or cc.height <= 0:
        raise UnsupportedMediaError(f"The input file {p.name} has a picture of unknown size.")
    info = MediaInfo(
        path=str(p),
        kind="image" if is_image else "video",
        width=cc.width,
        height=cc.height,
        codec=cc.name,
        pix_fmt=pix_fmt,
        bit_depth=_bit_depth(pix_fmt) if pix_fmt else 8,
        has_alpha=_has_alpha(pix_fmt) if pix_fmt else False,
        container=fmt_name,
        size_bytes=p.stat().st_size,
    )
    color = ColorInfo(
        matrix=int(cc.colorspace), range=int(cc.color_range),
        primaries=int(cc.color_primaries), transfer=int(cc.color_trc),
    )
    if vs.start_time is not None and vs.time_base is not None:
        info.start_time = float(vs.start_time * vs.time_base)
    if not is_image:
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        info.fps = Fraction(rate) if rate else None
        if vs.duration is not None and vs.time_base is not None:
            info.duration = float(vs.duration * vs.time_base)
        elif c.duration is not None:
            info.duration = c.duration / av.time_base - info.start_time
        info.frame_count = int(vs.frames or 0) or (
            round(info.duration * float(info.fps)) if info.fps else 0
        )
        base, avg = vs.base_rate, vs.average_rate
        if base and avg and abs(float(base) - float(avg)) / float(avg) > 0.01:
            info.variable_frame_rate = True
    else:
        info.frame_count = 1
    if c.streams.audio:
        a = c.streams.audio[0]
        info.has_audio = True
        info.audio_codec = canonical_codec(a.codec_context)
        if a.duration is not None and a.time_base is not None:
            info.audio_duration = float(a.duration * a.time_base)
        if a.start_time is not None and a.time_base is not None:
            info.audio_start_time = float(a.start_time * a.time_base)
    # First frame: rotation (display matrix), colour tags the container did not carry,
    # and proof that the stream decodes at all.
    first = None
    if cc.width * cc.height <= _PROBE_DECODE_MAX_PIXELS:
        pts: list[int] = []
        first = _first_frame(p, c, vs, pts)
        if not is_image and _looks_vfr(pts, complete=len(pts) < _VFR_PACKETS):
            info.variable_frame_rate = True
        info.rotation = int(round(first.rotation or 0)) % 360 if first is not None else 0
        if info.rotation % 90:
            info.rotation = 90 * round(info.rotation / 90) % 360
        if first is not None:
            color = ColorInfo(
                matrix=color.matrix if color.matrix != UNSPECIFIED else int(first.colorspace),
                range=color.range or int(first.color_range),
                primaries=(color.primaries if color.primaries != UNSPECIFIED
                           else int(first.color_primaries)),
                transfer=color.transfer if color.transfer != UNSPECIFIED else int(first.color_trc),
            )
            if not pix_fmt:
                info.pix_fmt = first.format.name
                info.bit_depth = _bit_depth(info.pix_fmt)
                info.has_alpha = _has_alpha(info.pix_fmt)
    info.color = color
    return info


def _first_frame(p: Path, c: av.container.InputContainer, vs,
                 pts_out: list[int] | None = None) -> av.VideoFrame | None:
    """Decode the first frame; also collect the first packets' timestamps in ``pts_out``."""
    first = None
    bad = 0
    try:
        for pkt in c.demux(vs):
            if pkt.pts is not None and pts_out is not None:
                pts_out.append(pkt.pts)
            if first is None:
                try:
                    frames = vs.decode(pkt)
                except av.InvalidDataError:
                    bad += 1
                    if bad > 8:
                        raise
                    continue
                if frames:
                    first = frames[0]
            if first is not None and (pts_out is None or len(pts_out) >= _VFR_PACKETS):
                break
        if first is None:
            for frame in vs.decode(None):
                first = frame
                break
    except av.FFmpegError as exc:
        if first is not None:
            return first
        raise UnsupportedMediaError(
            f"The video in {p.name} is corrupt and could not be decoded ({exc})."
        ) from None
    if first is None:
        raise UnsupportedMediaError(f"The input file {p.name} contains no decodable video frame.")
    return first


def _looks_vfr(pts: list[int], *, complete: bool) -> bool:
    """True when frame intervals among the first packets differ by more than 10%.

    Packets come in decode order: with B-frames, the first N packets do not hold the first N
    timestamps, so when the stream was not read to its end (``complete`` false) the highest
    timestamps, whose earlier neighbours may still be unread, are left out.
    """
    ordered = np.sort(np.asarray(pts, dtype=np.int64))
    if not complete:
        ordered = ordered[: max(0, len(ordered) - _REORDER_DEPTH)]
    if len(ordered) < 4:
        return False
    d = np.diff(ordered)
    d = d[d > 0]
    if len(d) < 3:
        return False
    med = float(np.median(d))
    return bool(np.any(np.abs(d - med) > 0.1 * med))
