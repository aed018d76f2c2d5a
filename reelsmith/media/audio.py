"""Carry the audio of a source file into an output container.

Rules (see :func:`audio_plan`):

- **copy** (packets remuxed untouched, no quality loss) when the output container accepts
  the source codec: MP4 takes AAC, MP3, AC-3, E-AC-3, ALAC, Opus, FLAC; MOV takes AAC, MP3,
  AC-3, E-AC-3, ALAC and PCM; MKV takes anything; WebM takes Opus and Vorbis.
- **transcode** otherwise: to AAC (MP4/MOV/MKV) or Opus (WebM). Timing is preserved by
  filling gaps (audio that starts after the video, holes) with silence, so the
  transcoded track stays in sync.

Time mapping: ``offset`` seconds of the source timeline are output time 0 (the source
video stream's start time, so that A/V sync is preserved); ``end`` (source time) cuts the
audio there. Packets are muxed interleaved with the video as it is written (``pump``),
so memory stays flat whatever the length.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

log = logging.getLogger(__name__)

_COPY_OK: dict[str, set[str] | None] = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_f32le",
            "pcm_s16be", "pcm_s24be"},
    "matroska": None,  # anything
    "webm": {"opus", "vorbis"},
}
_PRIMING_SLACK = 0.05  # seconds of pre-roll audio kept before output time 0
_SUFFIX_FAMILY = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
                  ".webm": "webm"}


def _family(container_format: str) -> str:
    name = container_format.split(",")[0]
    if name in ("mp4", "ipod", "3gp"):
        return "mp4"
    if name in ("mov",):
        return "mov"
    if name in ("matroska",):
        return "matroska"
    if name == "webm":
        return "webm"
    return name


def canonical_codec(cc: av.codec.context.CodecContext) -> str:
    """Codec name as containers know it (FFmpeg's mp3 *decoder* is "mp3float", etc.)."""
    try:
        name = cc.codec.canonical_name
        if name:
            return str(name)
    except AttributeError:  # pragma: no cover - older PyAV
        pass
    dec = cc.name
    for suffix in ("float", "fixed"):
        if dec.endswith(suffix) and dec != suffix:
            return dec[: -len(suffix)]
    return dec


def can_copy(codec: str, family: str) -> bool:
    allowed = _COPY_OK.get(family, set())
    return allowed is None or codec in allowed


def transcode_target(family: str) -> str:
    return "libopus" if family == "webm" else "aac"


@dataclass(frozen=True)
class AudioPlan:
    """What will happen to the audio of ``source`` in an output file of a given type.

    ``mode`` is "copy" (packets remuxed untouched), "transcode" or "none" (no audio).
    """

    mode: str
    source_codec: str | None = None
    output_codec: str | None = None

    @property
    def copied(self) -> bool:
        return self.mode == "copy"

    def describe(self) -> str:
        if self.mode == "copy":
            return f"copied ({self.source_codec}, not re-encoded)"
        if self.mode == "transcode":
            return f"transcoded {self.source_codec} -> {self.output_codec}"
        return "none"


def audio_plan(source: str | os.PathLike | None, output: str | os.PathLike) -> AudioPlan:
    """Decide, without writing anything, how the audio of ``source`` reaches ``output``.

    The engine uses this to report (and decide) whether the audio is kept untouched.
    """
    if source is None:
        return AudioPlan("none")
    try:
        with av.open(str(source), metadata_errors="ignore") as c:
            if not c.streams.audio:
                return AudioPlan("none")
            codec = canonical_codec(c.streams.audio[0].codec_context)
    except (av.FFmpegError, OSError):
        return AudioPlan("none")
    family = _SUFFIX_FAMILY.get(os.path.splitext(str(output))[1].lower(), "mp4")
    if can_copy(codec, family):
        return AudioPlan("copy", codec, codec)
    return AudioPlan("transcode", codec, transcode_target(family).removeprefix("lib"))


def timeline_kept(in_duration: float, out_duration: float, fps: float) -> bool:
    """True when an output spans the input's timeline to within one frame.

    Only then may the source audio be carried 1:1 (copied or transcoded without
    stretching); a workflow that changes speed must not pass ``audio_source``.
    """
    return abs(out_duration - in_duration) <= 1.0 / max(fps, 1e-9) + 1e-6


class AudioCarrier:
    """Copies (or transcodes) audio from ``source`` into ``output``.

    ``offset``: seconds of the source timeline that map to output time 0 (the video
    stream's start time, so that A/V sync is preserved). ``end``: stop at this source
    time (None: all of it). Raises ``ValueError`` when the source has no audio.
    ``position`` is the output time (seconds) up to which audio has been muxed.
    """

    def __init__(self, source: str, output: av.container.OutputContainer, *,
                 offset: float = 0.0, end: float | None = None) -> None:
        self._in = av.open(str(source), metadata_errors="ignore")
        if not self._in.streams.audio:
            self._in.close()
            raise ValueError("source has no audio")
        self._ins = self._in.streams.audio[0]
        self.offset = float(offset)
        self.end = end
        fam = _family(output.format.name)
        codec = canonical_codec(self._ins.codec_context)
        self.copy = can_copy(codec, fam)
        self._output = output
        self.position = 0.0
        if self.copy:
            self._outs = output.add_stream_from_template(self._ins)
        else:
            enc = transcode_target(fam)
            icc = self._ins.codec_context
            rate = icc.sample_rate or 48000
            supported = av.codec.Codec(enc, "w").audio_rates
            if supported and rate not in supported:
                rate = 48000
            self._outs = output.add_stream(enc, rate=rate)
            layout = icc.layout
            nch = layout.nb_channels if layout is not None else 0
            if nch and (nch <= 2 or (enc == "aac" and nch <= 8)):
                self._outs.layout = layout
            else:
                self._outs.layout = "stereo"
            self._written = 0.0  # seconds of audio handed to the encoder
        self._packets: Iterator[av.Packet] = self._in.demux(self._ins)
        self._pending: av.Packet | None = None
        self._done = False
        self._tb = self._ins.time_base
        self._shift = round(self.offset / self._tb) if self._tb else 0
        self.codec = codec
        self.output_codec = codec if self.copy else self._outs.codec_context.name
        self.mode = "copy" if self.copy else f"transcode->{self.output_codec}"

    @property
    def plan(self) -> AudioPlan:
        return AudioPlan("copy" if self.copy else "transcode", self.codec, self.output_codec)

    def _next(self) -> av.Packet | None:
        if self._pending is not None:
            p, self._pending = self._pending, None
            return p
        try:
            for pkt in self._packets:
                if pkt.dts is None and pkt.pts is None:
                    continue
                if pkt.size == 0:
                    continue
                return pkt
        except av.FFmpegError as exc:  # truncated/corrupt audio: keep what we have
            log.warning("audio demux stopped early: %s", exc)
        self._done = True
        return None

    def pump(self, until: float | None) -> None:
        """Mux audio up to output time ``until`` (None: everything that is left)."""
        while not self._done:
            pkt = self._next()
            if pkt is None:
                break
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            t = float(ts * self._tb) - self.offset
            if self.end is not None and t + self.offset >= self.end - 1e-9:
                self._done = True
                break
            if until is not None and t > until:
                self._pending = pkt
                break
            dur = float(pkt.duration * self._tb) if pkt.duration else 0.0
            # Entirely before the first video frame: nothing plays it. (Encoder priming
            # packets just before 0 are kept; the muxer turns them into an edit list.)
            if t + dur < -_PRIMING_SLACK:
                continue
            self._write(pkt)
            self.position = max(self.position, t + dur)

    def _write(self, pkt: av.Packet) -> None:
        if self.copy:
            if pkt.pts is not None:
                pkt.pts -= self._shift
            if pkt.dts is not None:
                pkt.dts -= self._shift
            pkt.stream = self._outs
            self._output.mux(pkt)
            return
        try:
            frames = self._ins.codec_context.decode(pkt)
        except av.FFmpegError:
            return
        for fr in frames:
            self._transcode(fr)

    def _transcode(self, fr: av.AudioFrame) -> None:
        rate = fr.sample_rate
        if fr.pts is not None and fr.time_base is not None:
            t = float(fr.pts * fr.time_base) - self.offset
        else:
            t = self._written
        n = fr.samples
        if self.end is not None:
            keep = round((self.end - self.offset - t) * rate)
            if keep <= 0:
                return
            if keep < n:
                fr, n = _slice(fr, 0, keep), keep
        if t < 0:  # starts before output time 0: cut the head
            cut = round(-t * rate)
            if cut >= n:
                return
            fr, n, t = _slice(fr, cut, n), n - cut, 0.0
        gap = t - self._written
        if gap * rate >= 32:  # audio starts late, or a hole: fill with silence
            self._encode(_silence_like(fr, round(gap * rate)))
            self._written += round(gap * rate) / rate
        fr.pts = None
        self._encode(fr)
        self._written += n / rate

    def _encode(self, fr: av.AudioFrame | None) -> None:
        for pkt in self._outs.encode(fr):
            self._output.mux(pkt)

    def finish(self) -> None:
        self.pump(None)
        if not self.copy:
            try:
                for fr in self._ins.codec_context.decode(None):
                    self._transcode(fr)
            except av.FFmpegError:
                pass
            self._encode(None)
        self._in.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._in.close()


def _slice(fr: av.AudioFrame, start: int, stop: int) -> av.AudioFrame:
    """Samples [start, stop) of an audio frame, as a new frame."""
    arr = fr.to_ndarray()
    if fr.format.is_planar:
        part = arr[:, start:stop]
    else:
        ch = fr.layout.nb_channels
        part = arr[:, start * ch:stop * ch]
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(part), format=fr.format.name,
                                     layout=fr.layout)
    out.sample_rate = fr.sample_rate
    return out


def _silence_like(fr: av.AudioFrame, samples: int) -> av.AudioFrame:
    arr = fr.to_ndarray()
    ch = fr.layout.nb_channels
    shape = (arr.shape[0], samples) if fr.format.is_planar else (1, samples * ch)
    out = av.AudioFrame.from_ndarray(np.zeros(shape, dtype=arr.dtype), format=fr.format.name,
                                     layout=fr.layout)
    out.sample_rate = fr.sample_rate
    return out
