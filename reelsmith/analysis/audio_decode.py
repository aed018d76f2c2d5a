"""Decode a file's first audio track once, to mono float32 at a fixed rate (analysis only)."""

from __future__ import annotations

import logging
import os

import av
import numpy as np

log = logging.getLogger(__name__)

ANALYSIS_RATE = 16000


def decode_mono(path: str | os.PathLike, rate: int = ANALYSIS_RATE, *,
                video_start: float = 0.0, check=None) -> np.ndarray | None:
    """Samples of the first audio stream on the *video* timeline (time 0 = first video frame).

    Returns None when the file has no audio stream or it cannot be decoded at all. Audio that
    starts after the video is preceded by silence; ``check`` is called once per chunk.
    """
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError:
        return None
    with container:
        if not container.streams.audio:
            return None
        st = container.streams.audio[0]
        a_start = float(st.start_time * st.time_base) if st.start_time is not None else 0.0
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        try:
            for i, frame in enumerate(container.decode(st)):
                if check is not None and i % 64 == 0:
                    check()
                frame.pts = None
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1).copy())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).copy())
        except av.FFmpegError as exc:
            log.warning("audio decoding stopped early: %s", exc)
            if not chunks:
                return None
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    shift = round((a_start - video_start) * rate)
    if shift > 0:
        samples = np.concatenate([np.zeros(shift, np.float32), samples])
    elif shift < 0:
        samples = samples[-shift:]
    return samples
