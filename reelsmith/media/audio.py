"""Carry the audio of a source file into an output container.

Packets are copied untouched (no re-encode) when the output container accepts the codec;
otherwise audio is transcoded (AAC for MP4/MOV/MKV, Opus for WebM). Packets are muxed
interleaved with the video as it is written (``pump``), so memory stays flat.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import av

log = logging.getLogger(__name__)

_COPY_OK = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
    "matroska": None,  # anything
    "webm": {"opus", "vorbis"},
}


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


def _canonical(decoder: str) -> str:
    """Decoder name -> codec name (FFmpeg's mp3 decoder is called mp3float, etc.)."""
    for suffix in ("float", "fixed"):
        if decoder.endswith(suffix) and decoder != suffix:
            return decoder[: -len(suffix)]
    return decoder


class AudioCarrier:
    """Copies (or transcodes) audio from ``source`` into ``output``.

    ``offset``: seconds of the source timeline that map to output time 0 (the video
    stream's start time, so that A/V sync is preserved). ``end``: stop at this source
    time (None: all of it).
    """

    def __init__(self, source: str, output: av.container.OutputContainer, *,
                 offset: float = 0.0, end: float | None = None) -> None:
        self._in = av.open(source, metadata_errors="ignore")
        if not self._in.streams.audio:
            self._in.close()
            raise ValueError("source has no audio")
        self._ins = self._in.streams.audio[0]
        self.offset = offset
        self.end = end
        fam = _family(output.format.name)
        allowed = _COPY_OK.get(fam, set())
        codec = _canonical(self._ins.codec_context.name)
        self.copy = allowed is None or codec in allowed
        if self.copy:
            self._outs = output.add_stream_from_template(self._ins)
        else:
            enc = "libopus" if fam == "webm" else "aac"
            rate = self._ins.codec_context.sample_rate or 48000
            if enc == "libopus":
                rate = 48000
            self._outs = output.add_stream(enc, rate=rate)
            layout = self._ins.codec_context.layout
            if layout is not None and layout.nb_channels <= 2:
                self._outs.layout = layout
            self._resampler = av.AudioResampler(
                format=self._outs.codec_context.format or "fltp",
                layout=self._outs.layout, rate=rate,
            )
        self._output = output
        self._packets: Iterator[av.Packet] = self._in.demux(self._ins)
        self._pending: av.Packet | None = None
        self._done = False
        self._tb = self._ins.time_base
        self._shift = round(offset / self._tb) if self._tb else 0
        self.codec = codec
        self.mode = "copy" if self.copy else f"transcode->{self._outs.codec_context.name}"

    def _next(self) -> av.Packet | None:
        if self._pending is not None:
            p, self._pending = self._pending, None
            return p
        for pkt in self._packets:
            if pkt.dts is None and pkt.pts is None:
                continue
            if pkt.size == 0:
                continue
            return pkt
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
            if self.end is not None and t + self.offset >= self.end:
                self._done = True
                break
            if until is not None and t > until:
                self._pending = pkt
                break
            if t < -0.5:  # audio far before the first video frame: nothing plays it
                continue
            self._write(pkt)

    def _write(self, pkt: av.Packet) -> None:
        if self.copy:
            if pkt.pts is not None:
                pkt.pts -= self._shift
            if pkt.dts is not None:
                pkt.dts -= self._shift
            if (pkt.dts is not None and pkt.dts < 0) or (pkt.pts is not None and pkt.pts < 0):
                return
            pkt.stream = self._outs
            self._output.mux(pkt)
            return
        try:
            frames = self._ins.codec_context.decode(pkt)
        except av.FFmpegError:
            return
        for fr in frames:
            self._encode(fr)

    def _encode(self, fr: av.AudioFrame | None) -> None:
        if fr is None:
            for out in self._resampler.resample(None):
                self._output.mux(self._outs.encode(out))
            self._output.mux(self._outs.encode(None))
            return
        fr.pts = None
        for out in self._resampler.resample(fr):
            self._output.mux(self._outs.encode(out))

    def finish(self) -> None:
        self.pump(None)
        if not self.copy:
            try:
                for fr in self._ins.codec_context.decode(None):
                    self._encode(fr)
            except av.FFmpegError:
                pass
            self._encode(None)
        self._in.close()

    def close(self) -> None:
        try:
            self._in.close()
        except Exception:  # noqa: BLE001
            pass
