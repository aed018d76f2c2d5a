"""Probe a media file: what is in it, without decoding it all."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from reelsmith.errors import InputError, UnsupportedMediaError
from reelsmith.media.color import ColorInfo

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
_IMAGE_CODECS = {"png", "mjpeg", "webp", "bmp", "tiff", "jpegls", "gif"}


@dataclass
class MediaInfo:
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
    rotation: int = 0  # counter-clockwise degrees to apply for display
    has_audio: bool = False
    audio_codec: str | None = None
    audio_duration: float | None = None
    variable_frame_rate: bool = False
    container: str = ""
    size_bytes: int = 0

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) after rotation."""
        if self.rotation % 180 != 0:
            return self.height, self.width
        return self.width, self.height

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
        return av.VideoFormat(pix_fmt).has_alpha  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        return "a" in pix_fmt.replace("yuva", "a").split("p")[0] if pix_fmt else False


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    """Open for reading, turning FFmpeg's errors into a sentence about the input."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"The input file {p} does not exist.")
    if p.is_dir():
        raise InputError(f"The input {p} is a directory, not a media file.")
    if p.stat().st_size == 0:
        raise UnsupportedMediaError(f"The input file {p.name} is empty.")
    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise UnsupportedMediaError(
            f"The input file {p.name} is not a video or image that can be read ({exc.strerror or exc})."
        ) from None


def probe(path: str | os.PathLike) -> MediaInfo:
    """Describe ``path``. Raises :class:`UnsupportedMediaError` if it holds no picture."""
    p = Path(path)
    with open_container(p) as c:
        if not c.streams.video:
            raise UnsupportedMediaError(
                f"The input file {p.name} has no video or image stream"
                + (" (it holds audio only)." if c.streams.audio else ".")
            )
        vs = c.streams.video[0]
        cc = vs.codec_context
        fmt_name = c.format.name or ""
        is_image = (
            cc.name in _IMAGE_CODECS and (vs.frames or 0) <= 1 and "image2" in fmt_name
            or fmt_name.endswith("_pipe") or p.suffix.lower() in IMAGE_EXTENSIONS and (vs.frames or 0) <= 1
        )
        pix_fmt = cc.pix_fmt or ""
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
        if cc.width <= 0 or cc.height <= 0:
            raise UnsupportedMediaError(f"The input file {p.name} has a picture of unknown size.")
        info.color = ColorInfo(
            matrix=int(cc.colorspace), range=int(cc.color_range),
            primaries=int(cc.color_primaries), transfer=int(cc.color_trc),
        )
        if not is_image:
            rate = vs.average_rate or vs.guessed_rate or vs.base_rate
            info.fps = Fraction(rate) if rate else None
            if vs.duration is not None and vs.time_base is not None:
                info.duration = float(vs.duration * vs.time_base)
            elif c.duration is not None:
                info.duration = c.duration / av.time_base
            info.frame_count = int(vs.frames or 0) or (
                round(info.duration * float(info.fps)) if info.fps else 0
            )
            base, avg = vs.base_rate, vs.average_rate
            if base and avg and abs(float(base) - float(avg)) / float(avg) > 0.01:
                info.variable_frame_rate = True
            info.rotation = _stream_rotation(vs)
        else:
            info.frame_count = 1
        if c.streams.audio:
            a = c.streams.audio[0]
            info.has_audio = True
            info.audio_codec = a.codec_context.name
            if a.duration is not None and a.time_base is not None:
                info.audio_duration = float(a.duration * a.time_base)
        return info


def _stream_rotation(vs: av.video.stream.VideoStream) -> int:
    """Counter-clockwise display rotation in degrees, from the stream's display matrix."""
    try:
        for sd in vs.side_data or []:  # type: ignore[union-attr]
            rot = getattr(sd, "rotation", None)
            if rot is not None:
                return int(round(rot)) % 360
    except Exception:  # noqa: BLE001 - older PyAV: no stream side data
        pass
    tag = (vs.metadata or {}).get("rotate")
    if tag:
        try:
            return (-int(tag)) % 360
        except ValueError:
            return 0
    return 0
