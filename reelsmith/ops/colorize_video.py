"""Video colourisation without flicker: colour keyframes, carry their chroma along optical flow.

Colouring every frame on its own flickers: a model (or a colour transfer) answers slightly
differently for each frame, so a wall pulses between two shades. :class:`ColorizeStage`
instead colours only keyframes -- the first frame of each shot (scene cuts from
:func:`reelsmith.ops.scene_cut.is_scene_cut`) and, when ``keyframe_every`` is set, every N
frames within a shot -- and gives every other frame the chroma of its keyframes, warped along
dense optical flow (:mod:`reelsmith.ops.flow`, DIS) frame by frame:

- forward from the keyframe before it (``ab_t(x) = ab_{t-1}(x + F_{t->t-1}(x))``),
- backward from the keyframe after it, when that keyframe is in the same shot,
- blended by temporal distance (the nearer keyframe counts more), so colour neither jumps at a
  keyframe nor drifts far from one.

Chroma is carried at a working size (:data:`WORK_PIXELS`) and put on each frame's own
full-resolution luminance with :func:`reelsmith.ops.chroma.apply_chroma`, so detail stays the
frame's. Memory is bounded: only the frames between two keyframes wait (at most
``keyframe_every``), each with its small chroma and grey planes; without periodic keyframes
(hint colourisation: the hints describe one moment) no frame waits at all.

:func:`chroma_flicker` / :class:`FlickerMeter` measure temporal consistency: the mean absolute
difference (Lab units) between each frame's a*/b* and the previous frame's a*/b* warped to it
along the flow, over the pixels the flow explains (luminance matches after warping).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import cv2
import numpy as np

from reelsmith.errors import InputError
from reelsmith.media.frame import Frame
from reelsmith.ops.chroma import apply_chroma, to_lab
from reelsmith.ops.flow import DenseFlow, FlowSettings
from reelsmith.ops.scene_cut import is_scene_cut

#: Pixels chroma is carried at.
WORK_PIXELS = 150_000
#: Pixels the flicker metric is measured at.
METER_PIXELS = 100_000
#: Luminance error (L* units) above which the flow does not explain a pixel (occlusion).
OCCLUDED_L = 6.0

#: Colours a keyframe: (frame RGB uint8/uint16, frame index) -> a*/b* at any small size.
KeyColorizer = Callable[[np.ndarray, int], np.ndarray]


def _size(w: int, h: int, pixels: int) -> tuple[int, int]:
    if w * h <= pixels:
        return w, h
    s = math.sqrt(pixels / (w * h))
    return max(8, round(w * s)), max(8, round(h * s))


def _small_lab(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    lab = to_lab(image)
    if (lab.shape[1], lab.shape[0]) != size:
        lab = cv2.resize(lab, size, interpolation=cv2.INTER_AREA)
    return lab


def _grey8(luma: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(luma * 2.55), 0, 255).astype(np.uint8)


def warp(plane: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``plane`` (HxW or HxWxC) sampled at ``x + flow(x)`` (bilinear, edges replicated)."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(plane, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


class FlickerMeter:
    """Streaming :func:`chroma_flicker`: ``add(frame)`` for each frame, ``value`` at the end."""

    def __init__(self, pixels: int = METER_PIXELS) -> None:
        self.pixels = pixels
        self._prev: np.ndarray | None = None
        self._flow = DenseFlow(FlowSettings())
        self._sum = 0.0
        self.pairs = 0

    def add(self, image: np.ndarray) -> None:
        size = _size(image.shape[1], image.shape[0], self.pixels)
        lab = _small_lab(image, size)
        prev, self._prev = self._prev, lab
        if prev is None or prev.shape != lab.shape:
            return
        flow = self._flow.calc(_grey8(lab[..., 0]), _grey8(prev[..., 0]))  # t -> t-1
        back = warp(prev, flow)
        valid = np.abs(back[..., 0] - lab[..., 0]) < OCCLUDED_L
        if valid.mean() < 0.05:  # a cut: nothing to compare
            return
        diff = np.abs(back[..., 1:] - lab[..., 1:]).sum(-1)
        self._sum += float(diff[valid].mean())
        self.pairs += 1

    @property
    def value(self) -> float | None:
        """Mean chroma warp error per frame pair (Lab units), None for fewer than two frames."""
        return self._sum / self.pairs if self.pairs else None


def chroma_flicker(frames: Iterable[np.ndarray]) -> float:
    """Temporal consistency of colour: the mean absolute a*+b* difference (Lab units) between
    consecutive frames after warping the earlier one to the later along optical flow, over
    pixels the flow explains. 0 for perfectly stable colour; lower is better."""
    meter = FlickerMeter()
    for f in frames:
        meter.add(f)
    if meter.value is None:
        raise InputError("Chroma flicker needs at least two frames of one shot.")
    return meter.value


class ColorizeStage:
    """Engine stage: keyframes coloured by ``colorize_key``, the rest by chroma propagated
    along optical flow (see the module doc). ``keyframe_every``: frames between periodic
    keyframes within a shot (None: keyframes at cuts only); ``propagate`` False colours every
    frame on its own (the flickering baseline). ``strength`` scales the chroma."""

    name = "colorize"

    def __init__(self, colorize_key: KeyColorizer, *, keyframe_every: int | None = None,
                 propagate: bool = True, strength: float = 1.0, work_pixels: int = WORK_PIXELS,
                 measure: bool = True) -> None:
        if keyframe_every is not None and keyframe_every < 1:
            raise InputError(f"keyframe_every must be at least 1 frame; got {keyframe_every}.")
        self.colorize_key = colorize_key
        self.keyframe_every = keyframe_every if propagate else 1
        self.strength = strength
        self.work_pixels = work_pixels
        self._flow = DenseFlow(FlowSettings())
        self._meter = FlickerMeter() if measure else None
        self._size: tuple[int, int] | None = None
        self._prev_image: np.ndarray | None = None
        self._key_index = -1
        self._fwd: np.ndarray | None = None  # forward-carried chroma of the last frame
        self._prev_grey: np.ndarray | None = None
        # frames waiting for the next keyframe: (frame, grey, forward chroma)
        self._pending: list[tuple[Frame, np.ndarray, np.ndarray]] = []
        self.frames = self.keyframes = self.cuts = 0
        self.max_pending = 0

    # -- helpers ------------------------------------------------------------------------

    def _key_chroma(self, image: np.ndarray) -> np.ndarray:
        ab = np.asarray(self.colorize_key(image, self.frames), np.float32)
        if ab.ndim != 3 or ab.shape[2] != 2:
            raise InputError(f"A keyframe colorizer must return hxwx2 chroma; got {ab.shape}.")
        assert self._size is not None
        return cv2.resize(ab, self._size, interpolation=cv2.INTER_LINEAR)

    def _emit(self, frame: Frame, ab: np.ndarray) -> Frame:
        frame.image = apply_chroma(frame.image, ab, strength=self.strength)
        if self._meter is not None:
            self._meter.add(frame.image)
        return frame

    def _resolve(self, right: tuple[np.ndarray, np.ndarray] | None) -> list[Frame]:
        """Emit the waiting frames: forward chroma only, or blended with chroma carried
        backward from the keyframe ``right`` = (its grey, its chroma)."""
        pending, self._pending = self._pending, []
        if not pending:
            return []
        if right is None:
            return [self._emit(f, ab) for f, _, ab in pending]
        grey_next, ab_back = right
        n = len(pending) + 1
        backs: list[np.ndarray] = []
        for _, grey, _ in reversed(pending):
            flow = self._flow.calc(grey, grey_next)  # t -> t+1
            ab_back = warp(ab_back, flow)
            backs.append(ab_back)
            grey_next = grey
        backs.reverse()
        out = []
        for i, ((frame, _, ab_f), ab_b) in enumerate(zip(pending, backs, strict=True), 1):
            wt = i / n
            out.append(self._emit(frame, (1.0 - wt) * ab_f + wt * ab_b))
        return out

    # -- the stage ----------------------------------------------------------------------

    def process(self, frame: Frame) -> list[Frame]:
        image = frame.image
        h, w = image.shape[:2]
        if self._size is None:
            self._size = _size(w, h, self.work_pixels)
        grey = _grey8(_small_lab(image, self._size)[..., 0])
        cut = self._prev_image is not None and is_scene_cut(self._prev_image, image)
        self.cuts += cut
        self._prev_image = image
        since = self.frames - self._key_index
        key = (self._fwd is None or cut
               or (self.keyframe_every is not None and since >= self.keyframe_every))
        out: list[Frame] = []
        if key:
            ab = self._key_chroma(image)
            out += self._resolve(None if cut or self.keyframe_every is None else (grey, ab))
            self._key_index = self.frames
            self.keyframes += 1
            self._fwd = ab
            out.append(self._emit(frame, ab))
        else:
            assert self._prev_grey is not None and self._fwd is not None
            flow = self._flow.calc(grey, self._prev_grey)  # t -> t-1
            self._fwd = warp(self._fwd, flow)
            if self.keyframe_every is None:
                out.append(self._emit(frame, self._fwd))
            else:
                self._pending.append((frame, grey, self._fwd))
                self.max_pending = max(self.max_pending, len(self._pending))
        self._prev_grey = grey
        self.frames += 1
        return out

    def flush(self) -> list[Frame]:
        if not self._pending:
            return []
        # the last frame becomes a keyframe so the tail is blended from both sides too
        frame, grey, _ = self._pending.pop()
        ab = self._key_chroma(frame.image)
        self.keyframes += 1
        out = self._resolve((grey, ab))
        out.append(self._emit(frame, ab))
        return out

    def describe(self) -> dict[str, Any]:
        flicker = self._meter.value if self._meter is not None else None
        return {"frames": self.frames, "keyframes": self.keyframes, "scene_cuts": self.cuts,
                "keyframe_every": self.keyframe_every, "max_waiting_frames": self.max_pending,
                "chroma_flicker": round(flicker, 4) if flicker is not None else None}
