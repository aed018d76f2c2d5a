"""Scene cuts in a video, found frame by frame on small analysis frames.

:class:`SceneCutDetector` is fed a video's analysis frames in order and returns cut times in
seconds (highlight reels). It runs PySceneDetect's content or adaptive detector when
installed, else a colour-histogram detector with the same interface, built on the same
histogram distance as the two-frame check the interpolator uses
(:mod:`reelsmith.ops.scene_cut`), with its own bins and threshold.
"""

from __future__ import annotations

import logging

import numpy as np

from reelsmith.ops.scene_cut import histogram_distance, hsv_histogram

log = logging.getLogger(__name__)

DETECTORS = ("adaptive", "content")


class SceneCutDetector:
    """``process(rgb, t)`` per analysis frame in order, then ``finish()`` -> sorted cut times.

    ``rate`` is the analysis frame rate (frames handed in per second of video).
    """

    def __init__(self, rate: float, *, detector: str = "content", min_scene_s: float = 0.8,
                 threshold: float | None = None) -> None:
        self.rate = rate
        self.min_scene_s = min_scene_s
        self.min_frames = max(1, round(min_scene_s * rate))
        self._n = 0
        self._times: list[float] = []
        self._cuts_idx: list[int] = []
        self.reason = ""
        try:
            from scenedetect.common import FrameTimecode
            from scenedetect.detectors import AdaptiveDetector, ContentDetector
        except ImportError:
            self._sd = None
            self.backend = "histogram"
            self.reason = "PySceneDetect is not installed; the built-in histogram detector ran"
            self._prev_hist: np.ndarray | None = None
            self._threshold = threshold if threshold is not None else 0.45
            return
        self._tc = FrameTimecode
        if detector == "content":
            # High recall here (min_scene_len 1); refine_cuts() then checks every candidate on
            # all frames and enforce_min_scene() drops cuts that come too close together.
            self._sd = ContentDetector(threshold=threshold or 27.0, min_scene_len=1)
        else:
            self._sd = AdaptiveDetector(adaptive_threshold=threshold or 3.0,
                                        min_scene_len=1, window_width=2)
        self.backend = f"pyscenedetect-{detector if detector in DETECTORS else 'adaptive'}"

    def process(self, rgb: np.ndarray, t: float) -> None:
        self._times.append(t)
        if self._sd is not None:
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            for tc in self._sd.process_frame(self._tc(self._n, fps=self.rate), bgr):
                self._cuts_idx.append(tc.frame_num)
        else:
            self._hist_process(rgb)
        self._n += 1

    def _hist_process(self, rgb: np.ndarray) -> None:
        hist = hsv_histogram(rgb, (16, 8, 8))
        if self._prev_hist is not None:
            dist = histogram_distance(self._prev_hist, hist)
            last = self._cuts_idx[-1] if self._cuts_idx else -10**9
            if dist > self._threshold and self._n - last >= self.min_frames:
                self._cuts_idx.append(self._n)
        self._prev_hist = hist

    def finish(self) -> list[float]:
        if self._sd is not None and self._n:
            for tc in self._sd.post_process(self._tc(self._n, fps=self.rate)):
                self._cuts_idx.append(tc.frame_num)
        cuts = sorted({i for i in self._cuts_idx if 0 < i < len(self._times)})
        # Cut at the midpoint between the last frame of a scene and the first of the next.
        return [round((self._times[i - 1] + self._times[i]) / 2, 3) for i in cuts]


def refine_cuts(cuts: list[float], times: np.ndarray, diffs: np.ndarray, window: float, *,
                ratio: float = 2.5, min_diff: float = 6.0, context: int = 6) -> list[float]:
    """Check and place cuts found on every n-th frame using *every* decoded frame.

    ``times``/``diffs``: each frame's time and mean absolute difference (0..255) of a tiny
    thumbnail from the previous frame. A cut moves onto the frame with the largest change in
    the ``window`` seconds around it, and is kept only if that change is a spike: at least
    ``min_diff`` and ``ratio`` times the median change of the ``context`` frames on each side
    (fast motion changes every frame a lot; a cut changes one frame).
    """
    out = []
    for c in cuts:
        sel = np.nonzero((times > c - window) & (times <= c + window / 2))[0]
        if not sel.size:
            out.append(round(c, 3))
            continue
        i = int(sel[np.argmax(diffs[sel])])
        around = np.concatenate([diffs[max(1, i - context):i], diffs[i + 1:i + 1 + context]])
        base = float(np.median(around)) if around.size else 0.0
        if diffs[i] >= min_diff and diffs[i] >= ratio * base:
            out.append(round(float(times[i]), 3))  # the first frame of the new scene
    return sorted(set(out))


def enforce_min_scene(cuts: list[float], min_scene_s: float) -> list[float]:
    out: list[float] = []
    for c in sorted(cuts):
        if c >= min_scene_s and (not out or c - out[-1] >= min_scene_s):
            out.append(c)
    return out


def scenes_from_cuts(cuts: list[float], duration: float) -> list[tuple[float, float]]:
    """[(start, end)] covering [0, duration]."""
    edges = [0.0] + [c for c in cuts if 0.0 < c < duration] + [duration]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]
