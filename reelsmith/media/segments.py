"""Decode chosen segments of a video onto a constant output frame grid.

A highlight reel keeps a few short spans of a long video. :func:`seek_frames` decodes only
around them: it seeks to a segment that lies more than ``SEEK_GAP_S`` ahead and converts to
RGB only the frames within a frame of a segment (with the same colour conversion as
:class:`~reelsmith.media.reader.VideoReader`), so a short reel of a long video decodes
little of it.

:class:`SegmentSource` places those frames on the reel's timeline: segment ``i`` has
``slots[i]`` slots at source times ``start + j / fps``, each filled with the source frame
nearest in time. That is exact for constant-rate sources, and variable-rate sources stay in
sync with audio cut at the same times. It yields engine :class:`Frame` objects numbered on
the output grid, so it is the source of an ordinary ``source -> stages -> sink`` pipeline.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence

import av
import numpy as np

from reelsmith.errors import ProcessingError
from reelsmith.media.frame import Frame
from reelsmith.media.probe import MediaInfo, open_container
from reelsmith.media.reader import MAX_BAD_PACKETS, frame_to_rgb

SEEK_GAP_S = 4.0  # seek instead of decoding through gaps longer than this


def normalise_segments(segments: Sequence[tuple[float, float]],
                       duration: float) -> list[tuple[float, float]]:
    """Clamp to [0, duration], sort, merge overlaps, drop empty ones."""
    out: list[tuple[float, float]] = []
    for s, e in sorted((float(a), float(b)) for a, b in segments):
        s, e = max(0.0, s), min(duration, e)
        if e - s <= 1e-3:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def seek_frames(source: str | os.PathLike, info: MediaInfo, segs: Sequence[tuple[float, float]],
                check: Callable[[], None] | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(time, RGB uint8 image) of the frames around ``segs`` (sorted), in time order.

    Times are seconds from the video stream's first frame, as :class:`VideoReader` gives
    them. ``check`` is called once per packet (a job's cancellation check). Raises
    :class:`ProcessingError` when too many packets are damaged.
    """
    fps = float(info.fps) if info.fps else 25.0
    pad = 1.5 / fps
    name = os.path.basename(str(source))
    with open_container(source) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        tb = vs.time_base
        origin = vs.start_time or 0
        pos = -1e9  # time of the last decoded frame
        last = -1e9
        bad = 0
        for s, e in segs:
            if s - pos > SEEK_GAP_S:
                target = max(0.0, s - 1.0)
                c.seek(origin + int(target / tb), stream=vs, backward=True, any_frame=False)
            done = False
            for packet in c.demux(vs):
                if check is not None:
                    check()
                try:
                    frames = vs.decode(packet)
                except av.InvalidDataError:
                    bad += 1
                    if bad > MAX_BAD_PACKETS:
                        raise ProcessingError(f"The video {name} has too many damaged packets.") from None
                    continue
                for vf in frames:
                    if vf.pts is None:
                        continue
                    t = float((vf.pts - origin) * tb)
                    pos = t
                    if t < s - pad or t <= last:
                        continue
                    last = t
                    yield t, frame_to_rgb(vf, info)
                    if t >= e + pad:
                        done = True
                        break
                if done:
                    break
            if not done:  # end of stream
                return


class SegmentSource:
    """Iterate the reel's frames: ``segments`` (normalised, source seconds) on the output grid.

    Each yielded :class:`Frame` has ``index`` n and ``time`` n / fps on the joined timeline
    (before any dissolve overlaps clips) and ``extra`` ``{"segment": i, "slot": j}``, so that
    stages can tell where a clip starts. A source frame that fills several slots is yielded
    as the same array each time: stages must not change images in place.

    After iteration, ``counts[i]`` is how many frames segment ``i`` got: ``slots[i]``, or
    fewer when the video ended early (later segments then get none).
    """

    def __init__(self, path: str | os.PathLike, info: MediaInfo,
                 segments: Sequence[tuple[float, float]], *,
                 check: Callable[[], None] | None = None) -> None:
        self.path = path
        self.info = info
        self.segments = list(segments)
        self.check = check
        self.fps = float(info.fps) if info.fps else 25.0
        self.slots = [max(1, math.floor((e - s) * self.fps + 1e-6)) for s, e in self.segments]
        self.counts = [0] * len(self.segments)

    @property
    def total_slots(self) -> int:
        return sum(self.slots)

    def __iter__(self) -> Iterator[Frame]:
        segs, fps, slots = self.segments, self.fps, self.slots
        self.counts = [0] * len(segs)
        i = j = n = 0
        prev: tuple[float, np.ndarray] | None = None

        def slot_time() -> float:
            return segs[i][0] + j / fps

        def fill(image: np.ndarray) -> Frame:
            nonlocal i, j, n
            frame = Frame(image, n / fps, n, extra={"segment": i, "slot": j})
            self.counts[i] += 1
            n += 1
            j += 1
            if j >= slots[i]:
                i, j = i + 1, 0
            return frame

        for ftime, fimage in seek_frames(self.path, self.info, segs, self.check):
            if prev is None or (i < len(segs) and prev[0] < segs[i][0] - 2.0 / fps):
                prev = (ftime, fimage)  # never fill a segment with a frame from before it
            # Slots closer to the previous frame than to this one take the previous frame.
            while i < len(segs) and slot_time() <= (prev[0] + ftime) / 2:
                yield fill(prev[1])
            if i >= len(segs):
                break
            prev = (ftime, fimage)
        if prev is not None:  # end of stream: fill slots up to one frame past the last frame
            while i < len(segs) and slot_time() < prev[0] + 1.0 / fps - 1e-6:
                yield fill(prev[1])
