"""Engine stages for a reel of joined clips: vertical framing, dissolves, burned subtitles.

They take frames from :class:`reelsmith.media.segments.SegmentSource`, whose ``extra`` says
which clip (``segment``) and which frame of it (``slot``) each one is, and run in this order:
framing (per clip: a ``follow`` crop starts tracking afresh at each clip), crossfade (which
overlaps clips and so renumbers frames onto the final timeline), subtitles (cue times are on
that final timeline). None changes an image in place.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from reelsmith.analysis.subject_track import SubjectTracker
from reelsmith.media.frame import Frame
from reelsmith.media.subtitles import Cue
from reelsmith.ops.crop_geometry import crop_axis, window_offset
from reelsmith.ops.reframe import Reframer
from reelsmith.ops.subtitles import SubtitleBurner


def _starts_clip(frame: Frame) -> bool:
    return frame.extra.get("slot") == 0


class VerticalStage:
    """Reframe each frame for a vertical ``mode``; ``follow`` places the crop on the subject."""

    name = "vertical"

    def __init__(self, src_w: int, src_h: int, mode: str) -> None:
        self.reframer = Reframer(src_w, src_h, mode)
        self.out = self.reframer.out
        self.tracker: SubjectTracker | None = None
        if mode == "follow" and self.reframer.crops:
            axis = crop_axis(self.reframer.src, self.out)
            self.tracker = SubjectTracker(src_w, src_h, axis)
            self._window = self.out[0] if axis == "x" else self.out[1]

    def process(self, frame: Frame) -> list[Frame]:
        offset = None
        if self.tracker is not None:
            if _starts_clip(frame):
                self.tracker.reset()
            offset = window_offset(self.tracker.update(frame.image), self._window, self.tracker.span)
        frame.image = self.reframer.apply(frame.image, offset)
        return [frame]

    def flush(self) -> list[Frame]:
        return []


class CrossfadeStage:
    """Dissolve over ``overlap`` frames at each join, and number frames on the final timeline.

    The last ``overlap`` frames of a clip are held back; the first frames of the next clip
    are blended over them (frame j gets weight (j + 1) / (overlap + 1)), so each join shortens
    the reel by ``overlap`` frames. Output frame n has time n / ``fps``.
    """

    name = "crossfade"

    def __init__(self, overlap: int, fps: float) -> None:
        self.overlap = overlap
        self.fps = fps
        self._buf: deque[Frame] = deque()
        self._tail: list[Frame] = []
        self._started = False
        self._n = 0

    def _emit(self, frame: Frame) -> Frame:
        frame.index, frame.time = self._n, self._n / self.fps
        self._n += 1
        return frame

    def process(self, frame: Frame) -> list[Frame]:
        slot = frame.extra.get("slot", 1)
        if _starts_clip(frame):
            if self._started:
                self._tail, self._buf = list(self._buf), deque()  # held back for the dissolve
            self._started = True
        if slot < len(self._tail):
            alpha = (slot + 1) / (len(self._tail) + 1)
            under = self._tail[slot].image
            frame.image = (under.astype(np.float32) * (1 - alpha)
                           + frame.image.astype(np.float32) * alpha + 0.5).astype(np.uint8)
        self._buf.append(frame)
        out = []
        while len(self._buf) > self.overlap:
            out.append(self._emit(self._buf.popleft()))
        return out

    def flush(self) -> list[Frame]:
        out = [self._emit(f) for f in self._buf]
        self._buf.clear()
        return out


class SubtitleStage:
    """Burn the cue showing at each frame's time (seconds on the final timeline)."""

    name = "subtitles"

    def __init__(self, cues: Sequence[Cue], width: int, height: int) -> None:
        self.burner = SubtitleBurner(cues, width, height)

    def process(self, frame: Frame) -> list[Frame]:
        frame.image = self.burner.apply(frame.image, frame.time)
        return [frame]

    def flush(self) -> list[Frame]:
        return []
