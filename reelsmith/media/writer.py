"""Encode RGB frames to a video file, carrying audio and colour metadata from the source.

Output goes to a hidden temporary sibling and is renamed into place by :meth:`close`;
:meth:`abort` (or an exception inside ``with``) removes it, so a failed job leaves nothing.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from reelsmith.errors import InputError, ProcessingError
from reelsmith.media.atomic import commit, discard, temp_path_for
from reelsmith.media.audio import AudioCarrier
from reelsmith.media.color import ColorInfo, output_color


@dataclass(frozen=True)
class CodecSpec:
    encoder: str
    pix_fmt8: str
    pix_fmt10: str | None
    crf_option: str | None
    default_crf: int


CODECS: dict[str, CodecSpec] = {
    "h264": CodecSpec("libx264", "yuv420p", "yuv420p10le", "crf", 18),
    "h265": CodecSpec("libx265", "yuv420p", "yuv420p10le", "crf", 20),
    # This PyAV wheel's libvpx is built 8-bit only (no yuv420p10le): VP9 output is 8-bit.
    "vp9": CodecSpec("libvpx-vp9", "yuv420p", None, "crf", 31),
    "av1": CodecSpec("libsvtav1", "yuv420p", "yuv420p10le", "crf", 30),
    "h264_nvenc": CodecSpec("h264_nvenc", "yuv420p", None, "cq", 21),
    "hevc_nvenc": CodecSpec("hevc_nvenc", "yuv420p", "p010le", "cq", 23),
}
CODEC_ALIASES = {"libx264": "h264", "x264": "h264", "avc": "h264", "hevc": "h265",
                 "libx265": "h265", "x265": "h265", "libvpx-vp9": "vp9", "libsvtav1": "av1"}
CONTAINER_CODECS = {".webm": {"vp9", "av1"}, ".mp4": set(CODECS), ".mov": set(CODECS),
                    ".mkv": set(CODECS)}


def resolve_codec(name: str | None, suffix: str = ".mp4") -> str:
    """Normalise a user's codec name; raise InputError listing the valid ones."""
    key = (name or ("vp9" if suffix == ".webm" else "h264")).strip().lower()
    key = CODEC_ALIASES.get(key, key)
    if key not in CODECS:
        raise InputError(f"Unknown codec {name!r}; valid codecs are: {', '.join(sorted(CODECS))}.")
    if key not in av.codecs_available and CODECS[key].encoder not in av.codecs_available:
        raise InputError(f"The codec {key!r} is not available in this build of FFmpeg.")
    allowed = CONTAINER_CODECS.get(suffix)
    if allowed is not None and key not in allowed:
        raise InputError(f"The codec {key!r} cannot be written to a {suffix} file; "
                         f"use one of: {', '.join(sorted(allowed))}.")
    return key


_TEN_BIT_H264_NOTE = ("10-bit input kept as 10-bit H.264 (High 10 profile); browsers and many "
                      "hardware players cannot decode it: choose h265 or av1 for 10-bit "
                      "output that plays widely, or bit_depth=8.")

SUPPORTED_VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")


class VideoWriter:
    """Streaming encoder. Frames are HxWx3 uint8 (or uint16 for high bit depth) RGB.

    ``constant_rate``: frame N gets time N/fps (what ``--fps`` asks for). Otherwise each
    frame's own time is used (variable frame rate kept in sync with the audio).
    Odd sizes are padded by one edge pixel to the even size 4:2:0 needs: a 175x143 frame
    is stored as 176x144 (``enc_width``/``enc_height``, ``padded``); the extra row/column
    repeats the edge so nothing visible is added, and no pixel is resampled.

    Bit depth: ``bit_depth`` > 8 writes 10-bit (``yuv420p10le``) when the codec can (H.264
    High 10, H.265 Main 10, AV1); VP9 and NVENC H.264 fall back to 8-bit. ``describe()``
    says what was written. Pixels are written upright with no rotation metadata.

    Audio: ``audio_source`` is copied when the container allows, else transcoded (see
    :mod:`reelsmith.media.audio`); ``audio_offset`` is the source time that maps to output
    time 0 (None: the source's video start time, which is where ``VideoReader`` frame times
    count from); ``audio_end`` cuts the audio at that source time. ``audio_mode`` /
    ``audio_copied`` tell what happened.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        width: int,
        height: int,
        fps: Fraction | float,
        codec: str | None = None,
        crf: int | None = None,
        preset: str | None = None,
        bit_depth: int = 8,
        color: ColorInfo | None = None,
        audio_source: str | None = None,
        audio_offset: float | None = None,
        audio_end: float | None = None,
        constant_rate: bool = True,
        threads: int = 0,
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in SUPPORTED_VIDEO_SUFFIXES:
            raise InputError(f"Cannot write video to {self.path.name}: use one of "
                             f"{', '.join(SUPPORTED_VIDEO_SUFFIXES)}.")
        if not self.path.parent.exists():
            raise InputError(f"The output folder {self.path.parent} does not exist.")
        self.codec = resolve_codec(codec, suffix)
        spec = CODECS[self.codec]
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        if self.fps <= 0:
            raise InputError("The output frame rate must be positive.")
        self.width, self.height = width, height
        self.enc_width, self.enc_height = width + (width % 2), height + (height % 2)
        self.ten_bit = bit_depth > 8 and spec.pix_fmt10 is not None
        self.pix_fmt = spec.pix_fmt10 if self.ten_bit else spec.pix_fmt8
        self.color = output_color(color or ColorInfo(), self.enc_height)
        self.constant_rate = constant_rate
        self._tmp = temp_path_for(self.path)
        self._count = 0
        self._last_pts = -1
        self._closed = False
        self.audio_mode: str | None = None
        try:
            self._out = av.open(str(self._tmp), "w")
            rate = self.fps  # exact: 45000/1499 stays 45000/1499
            self._vs = self._out.add_stream(spec.encoder, rate=rate)
            self._vs.width, self._vs.height = self.enc_width, self.enc_height
            self._vs.pix_fmt = self.pix_fmt
            if constant_rate:
                self._tb = Fraction(1, 1) / rate
            else:
                self._tb = Fraction(1, 90000)
            self._vs.time_base = self._tb
            self._vs.codec_context.time_base = self._tb
            cc = self._vs.codec_context
            cc.colorspace = self.color.matrix
            cc.color_range = self.color.range
            cc.color_primaries = self.color.primaries
            cc.color_trc = self.color.transfer
            if threads:
                cc.thread_count = threads
            opts: dict[str, str] = {}
            q = crf if crf is not None else spec.default_crf
            if spec.crf_option:
                opts[spec.crf_option] = str(q)
            if spec.encoder == "libx264":
                opts["preset"] = preset or "medium"
            elif spec.encoder == "libx265":
                opts["preset"] = preset or "medium"
                opts["x265-params"] = "log-level=error"
            elif spec.encoder == "libvpx-vp9":
                opts.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"})
            elif spec.encoder == "libsvtav1":
                opts["preset"] = preset or "8"
            elif preset:
                opts["preset"] = preset
            cc.options = opts
            self._audio: AudioCarrier | None = None
            if audio_source:
                if audio_offset is None:
                    audio_offset = _video_start(audio_source)
                try:
                    self._audio = AudioCarrier(audio_source, self._out, offset=audio_offset,
                                               end=audio_end)
                    self.audio_mode = self._audio.mode
                except ValueError:
                    self._audio = None
        except av.FFmpegError as exc:
            self.abort()
            raise ProcessingError(f"Could not start encoding {self.path.name} ({exc}).") from None

    @property
    def frames_written(self) -> int:
        return self._count

    @property
    def padded(self) -> bool:
        """True when an odd size was padded to even (the file is enc_width x enc_height)."""
        return (self.enc_width, self.enc_height) != (self.width, self.height)

    @property
    def audio_copied(self) -> bool:
        """True when the source audio was remuxed untouched (no re-encode)."""
        return self.audio_mode == "copy"

    @property
    def bit_depth(self) -> int:
        return 10 if self.ten_bit else 8

    def describe(self) -> dict:
        """What is being written, for workflow metadata."""
        return {
            "codec": self.codec,
            "encoder": CODECS[self.codec].encoder,
            "pix_fmt": self.pix_fmt,
            "bit_depth": self.bit_depth,
            "width": self.width,
            "height": self.height,
            "encoded_width": self.enc_width,
            "encoded_height": self.enc_height,
            "padded": self.padded,
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "constant_rate": self.constant_rate,
            "color": self.color.describe(),
            "audio": self.audio_mode or "none",
            "frames": self._count,
        } | ({"note": _TEN_BIT_H264_NOTE} if self.ten_bit and self.codec == "h264" else {})

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        if self._closed:
            raise ProcessingError("write() after close()")
        image = np.asarray(image)
        if image.dtype not in (np.uint8, np.uint16):
            raise ProcessingError(
                f"Frames must be uint8 or uint16 RGB arrays, not {image.dtype}."
            )
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        h, w = image.shape[:2]
        if (w, h) != (self.width, self.height):
            raise ProcessingError(
                f"Frame size {w}x{h} does not match the output {self.width}x{self.height}."
            )
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[:, :, :3]
        if (w, h) != (self.enc_width, self.enc_height):
            pad = ((0, self.enc_height - h), (0, self.enc_width - w), (0, 0))
            image = np.pad(image, pad, mode="edge")
        fmt = "rgb48le" if image.dtype == np.uint16 else "rgb24"
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
        vf = vf.reformat(format=self.pix_fmt, dst_colorspace=_sws_space(self.color.matrix),
                         dst_color_range=self.color.range)
        if self.constant_rate:
            pts = self._count
        elif time is None:
            pts = self._last_pts + max(1, round(1 / (self.fps * self._tb)))
        else:
            pts = max(round(time / self._tb), self._last_pts + 1)
        vf.pts = pts
        vf.time_base = self._tb
        self._last_pts = pts
        try:
            for pkt in self._vs.encode(vf):
                self._out.mux(pkt)
            if self._audio is not None:
                self._audio.pump(float(pts * self._tb) + 0.5)
        except av.FFmpegError as exc:
            self.abort()
            raise ProcessingError(f"Encoding {self.path.name} failed ({exc}).") from None
        self._count += 1

    def close(self) -> Path:
        """Flush, finish audio, and move the file into place. Returns the final path."""
        if self._closed:
            return self.path
        if self._count == 0:
            self.abort()
            raise ProcessingError("No frames were produced, so no video was written.")
        try:
            for pkt in self._vs.encode(None):
                self._out.mux(pkt)
            if self._audio is not None:
                self._audio.finish()
            self._out.close()
        except av.FFmpegError as exc:
            self.abort()
            raise ProcessingError(f"Finishing {self.path.name} failed ({exc}).") from None
        self._closed = True
        return commit(self._tmp, self.path)

    def abort(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        for obj in (getattr(self, "_audio", None), getattr(self, "_out", None)):
            if obj is not None:
                with contextlib.suppress(Exception):
                    obj.close()
        discard(self._tmp)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _video_start(source: str | os.PathLike) -> float:
    """Start time (s) of the first video stream of ``source``; 0 when it has none."""
    try:
        with av.open(str(source), metadata_errors="ignore") as c:
            if c.streams.video:
                vs = c.streams.video[0]
                if vs.start_time is not None and vs.time_base is not None:
                    return float(vs.start_time * vs.time_base)
    except (av.FFmpegError, OSError):
        pass
    return 0.0


def _sws_space(matrix: int) -> int:
    return {1: 1, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9, 4: 4}.get(matrix, 1)
