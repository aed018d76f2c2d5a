"""Cut spans of a source's audio, join them cleanly, and mux the result with a video.

Clean joins: each span is cut to exactly the length of its frames, so picture and sound stay
in sync; every join gets a short fade (no pops), or an equal-power crossfade where clips
overlap (a video dissolve). The audio is decoded once, streaming, into buffers as long as
the spans (a reel is short). :func:`mux_audio` then copies an encoded video's packets,
interleaved with the joined audio encoded as AAC, into a new file.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from reelsmith.errors import ProcessingError

log = logging.getLogger(__name__)


def cut_audio(source: str | os.PathLike, spans: list[tuple[float, float]],
              overlaps: list[float], fade: float,
              check: Callable[[], None] | None = None) -> tuple[np.ndarray, int] | None:
    """Decode the audio once (streaming) and return (channels x samples float32, rate) of the
    spans joined with fades or equal-power crossfades; gaps past the audio's end are silence.

    ``spans`` are (source start, seconds) in video-stream time (seconds from the first video
    frame); ``overlaps[i]`` is how many seconds span ``i + 1`` overlaps the one before it
    (a crossfade; 0 for a cut with short fades of ``fade`` seconds). ``check`` is called
    every few audio frames (a job's cancellation check). None when there is no audio.
    """
    try:
        container = av.open(str(source), metadata_errors="ignore")
    except av.FFmpegError:
        return None
    with container:
        if not container.streams.audio:
            return None
        ast = container.streams.audio[0]
        vst = container.streams.video[0] if container.streams.video else None
        rate = ast.codec_context.sample_rate or 48000
        if rate not in (44100, 48000, 32000, 24000, 22050, 16000, 96000, 88200):
            rate = 48000
        chans = 1 if (ast.codec_context.channels or 2) == 1 else 2
        layout = "mono" if chans == 1 else "stereo"
        a0 = float(ast.start_time * ast.time_base) if ast.start_time is not None else 0.0
        v0 = float(vst.start_time * vst.time_base) if vst is not None and vst.start_time is not None else 0.0
        ranges = [(round(t0 * rate), round(t0 * rate) + round(d * rate)) for t0, d in spans]
        bufs = [np.zeros((chans, b - a), np.float32) for a, b in ranges]
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        pos = round((a0 - v0) * rate)
        last_end = ranges[-1][1]

        def place(arr: np.ndarray) -> None:
            nonlocal pos
            n = arr.shape[1]
            for (a, b), buf in zip(ranges, bufs, strict=True):
                lo, hi = max(a, pos), min(b, pos + n)
                if hi > lo:
                    buf[:, lo - a:hi - a] = arr[:, lo - pos:hi - pos]
            pos += n

        try:
            for idx, fr in enumerate(container.decode(ast)):
                if check is not None and idx % 64 == 0:
                    check()
                fr.pts = None
                for out in resampler.resample(fr):
                    place(out.to_ndarray())
                if pos >= last_end:
                    break
            else:
                for out in resampler.resample(None):
                    place(out.to_ndarray())
        except av.FFmpegError as exc:
            log.warning("audio decoding stopped early (%s); the rest is silent", exc)
    nf = max(1, int(fade * rate))
    for buf in bufs:  # short fades at every cut: no clicks
        m = min(nf, buf.shape[1] // 2)
        if m > 0:
            ramp = np.linspace(0.0, 1.0, m, dtype=np.float32)
            buf[:, :m] *= ramp
            buf[:, -m:] *= ramp[::-1]
    out = bufs[0]
    for buf, ov in zip(bufs[1:], overlaps, strict=True):
        m = min(int(round(ov * rate)), out.shape[1], buf.shape[1])
        if m > 0:
            th = np.linspace(0.0, math.pi / 2, m, dtype=np.float32)
            mixed = out[:, -m:] * np.cos(th) + buf[:, :m] * np.sin(th)
            out = np.concatenate([out[:, :-m], mixed, buf[:, m:]], axis=1)
        else:
            out = np.concatenate([out, buf], axis=1)
    return np.clip(out, -1.0, 1.0), rate


def mux_audio(video: Path, samples: np.ndarray, rate: int, dest: Path) -> None:
    """Copy the encoded video from ``video`` and encode ``samples`` as AAC into ``dest``.

    Raises :class:`ProcessingError` when FFmpeg fails.
    """
    chans = samples.shape[0]
    try:
        with av.open(str(video)) as vin, av.open(str(dest), "w",
                                                  options={"movflags": "+faststart"}) as out:
            vin_s = vin.streams.video[0]
            vout = out.add_stream_from_template(vin_s)
            aout = out.add_stream("aac", rate=rate)
            aout.layout = "mono" if chans == 1 else "stereo"
            aout.time_base = Fraction(1, rate)
            pos = 0
            chunk = 1024

            def audio_until(t: float | None) -> None:
                nonlocal pos
                stop = samples.shape[1] if t is None else min(samples.shape[1], int(t * rate))
                while pos < stop:
                    part = np.ascontiguousarray(samples[:, pos:pos + chunk])
                    fr = av.AudioFrame.from_ndarray(part, format="fltp", layout=aout.layout.name)
                    fr.sample_rate = rate
                    fr.pts = pos
                    fr.time_base = Fraction(1, rate)
                    for pkt in aout.encode(fr):
                        out.mux(pkt)
                    pos += part.shape[1]

            for pkt in vin.demux(vin_s):
                if pkt.dts is None:
                    continue
                t = float(pkt.dts * pkt.time_base)
                pkt.stream = vout
                out.mux(pkt)
                audio_until(t + 0.5)
            audio_until(None)
            for pkt in aout.encode(None):
                out.mux(pkt)
    except av.FFmpegError as exc:
        raise ProcessingError(f"Joining the reel's picture and sound failed ({exc}).") from None
