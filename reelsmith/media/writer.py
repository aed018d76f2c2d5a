"""Encode RGB frames to a video file, carrying audio and colour metadata from the source.

Output goes to a hidden temporary sibling and is renamed into place by :meth:`close`;
:meth:`abort` (or an exception inside ``with``) removes it, so a failed job leaves nothing.
"""

from __future__ import annotations

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
    "vp9": CodecSpec("libvpx-vp9", "yuv420p", "yuv420p10le", "crf", 31),
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


SUPPORTED_VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")


class VideoWriter:
    """Streaming encoder. Frames are HxWx3 uint8 (or uint16 for high bit depth) RGB.

    ``constant_rate``: frame N gets time N/fps (what ``--fps`` asks for). Otherwise each
    frame's own time is used (variable frame rate kept in sync with the audio).
    Odd sizes are padded by one edge pixel to the even size 4:2:0 needs.
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
        audio_offset: float = 0.0,
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
            rate = self.fps if self.fps.denominator <= 1001 else Fraction(round(float(self.fps) * 1000), 1000)
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

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        if self._closed:
            raise ProcessingError("write() after close()")
        h, w = image.shape[:2]
        if (w, h) != (self.width, self.height):
            raise ProcessingError(f"Frame size {w}x{h} does not match the output {self.width}x{self.height}.")
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[:, :, :3]
        if (w, h) != (self.enc_width, self.enc_height):
            image = np.pad(image, ((0, self.enc_height - h), (0, self.enc_width - w), (0, 0)), mode="edge")
        fmt = "rgb48le" if image.dtype == np.uint16 else "rgb24"
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
        vf = vf.reformat(format=self.pix_fmt, dst_colorspace=_sws_space(self.color.matrix),
                         dst_color_range=self.color.range)
        if self.constant_rate or time is None:
            pts = self._count
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
                try:
                    obj.close()
                except Exception:  # noqa: BLE001
                    pass
        discard(self._tmp)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _sws_space(matrix: int) -> int:
    return {1: 1, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9, 4: 4}.get(matrix, 1)
