"""Engine stages that adapt the ops (and model-backed equivalents) to streaming frames."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from reelsmith.engine.pool import OrderedPool
from reelsmith.media.frame import Frame


class Upscaler(Protocol):
    name: str

    def upscale(self, image: np.ndarray) -> np.ndarray: ...


class Interpolator(Protocol):
    name: str

    def prepare(self, a: np.ndarray, b: np.ndarray) -> Any: ...

    def interpolate(self, state: Any, t: float) -> np.ndarray: ...


class UpscaleStage:
    """Upscale each frame; ``resize`` (optional) brings a fixed-scale model's output to size.

    Frames are processed on ``workers`` threads (the ops release the GIL) in order.
    """

    name = "upscale"

    def __init__(self, upscaler: Upscaler,
                 resize: Callable[[np.ndarray], np.ndarray] | None = None,
                 workers: int | None = None) -> None:
        self.upscaler = upscaler
        self.resize = resize
        self._pool: OrderedPool[Frame] = OrderedPool(getattr(upscaler, "workers", None) or workers)

    def _one(self, frame: Frame) -> Frame:
        img = self.upscaler.upscale(frame.image)
        if self.resize is not None:
            img = self.resize(img)
        frame.image = img
        return frame

    def process(self, frame: Frame) -> list[Frame]:
        return self._pool.submit(lambda: self._one(frame))

    def flush(self) -> list[Frame]:
        out = self._pool.drain()
        self._pool.close()
        return out


class InterpolateStage:
    """Insert frames between consecutive input frames.

    Timing: in ``multiplier`` mode every input interval [t_a, t_b) is split into
    ``multiplier`` equal steps, so variable-frame-rate input stays in sync; in ``fps``
    mode output frames sit at k/fps for every k whose time lies within the input's
    duration (a constant-rate output). Output frames that coincide with an input frame are
    that frame, unchanged. Across a scene cut the last frame of the old scene is held
    (never morphed); identical neighbours are repeated without computing flow.
    """

    name = "interpolate"

    def __init__(
        self,
        interpolator: Interpolator,
        *,
        multiplier: int | None = None,
        fps: Fraction | None = None,
        duration: float | None = None,
        nominal_interval: float = 1 / 25,
        is_cut: Callable[[np.ndarray, np.ndarray], bool] | None = None,
        is_duplicate: Callable[[np.ndarray, np.ndarray], bool] | None = None,
        workers: int | None = None,
    ) -> None:
        if (multiplier is None) == (fps is None):
            raise ValueError("give exactly one of multiplier or fps")
        self.interpolator = interpolator
        self.multiplier = multiplier
        self.fps = fps
        self.duration = duration
        self.nominal_interval = nominal_interval
        self.is_cut = is_cut
        self.is_duplicate = is_duplicate
        self._prev: Frame | None = None
        self._next_k = 0  # fps mode: next output index
        self._out_index = 0
        self.cuts = 0
        self.duplicates = 0
        self.interpolated = 0
        self._lock = threading.Lock()
        self._pool: OrderedPool[list[Frame]] = OrderedPool(
            getattr(interpolator, "workers", None) or workers)

    # -- helpers ------------------------------------------------------------------
    def _emit(self, image: np.ndarray, time: float, source: str) -> Frame:
        f = Frame(image, time, self._out_index, source=source)
        self._out_index += 1
        return f

    def _times_between(self, ta: float, tb: float) -> list[float]:
        if self.multiplier is not None:
            step = (tb - ta) / self.multiplier
            return [ta + i * step for i in range(self.multiplier)]
        return self._fps_times_until(tb)

    def _fps_times_until(self, bound: float) -> list[float]:
        """fps mode: the output times k/fps not yet emitted that lie before ``bound``."""
        assert self.fps is not None
        fps = float(self.fps)
        out = []
        while self._next_k / fps < bound - 1e-9:
            out.append(self._next_k / fps)
            self._next_k += 1
        return out

    def _pair(self, a: Frame, b: Frame) -> list[list[Frame]]:
        """Plan the pair's output times and indices now; compute the pixels on the pool."""
        times = self._times_between(a.time, b.time)
        if not times:
            return []
        span = b.time - a.time
        plan: list[tuple[int, float, float]] = []  # (output index, time, fraction)
        for t in times:
            frac = (t - a.time) / span if span > 0 else 0.0
            plan.append((self._out_index, t, frac))
            self._out_index += 1
        return self._pool.submit(lambda: self._render(a, b, plan))

    def _render(self, a: Frame, b: Frame, plan: list[tuple[int, float, float]]) -> list[Frame]:
        need = any(frac > 1e-6 for _, _, frac in plan)
        cut = dup = False
        state = None
        if need:
            if self.is_duplicate is not None and self.is_duplicate(a.image, b.image):
                dup = True
            elif self.is_cut is not None and self.is_cut(a.image, b.image):
                cut = True
            else:
                state = self.interpolator.prepare(a.image, b.image)
                # Interpolators that detect cuts/duplicates themselves say so in their state.
                kind = getattr(state, "kind", None)
                cut, dup = kind == "cut", kind == "duplicate"
        out: list[Frame] = []
        for idx, t, frac in plan:
            if frac <= 1e-6:
                out.append(Frame(a.image, t, idx, source=a.source))
            elif dup or cut:
                out.append(Frame(a.image, t, idx, source="repeated"))  # hold: never morph a cut
            else:
                img = self.interpolator.interpolate(state, float(frac))
                out.append(Frame(img, t, idx, source="interpolated"))
        with self._lock:
            self.duplicates += dup
            self.cuts += cut
            self.interpolated += sum(1 for f in out if f.source == "interpolated")
        return out

    # -- Stage --------------------------------------------------------------------
    def process(self, frame: Frame) -> list[Frame]:
        prev, self._prev = self._prev, frame
        if prev is None:
            if self.fps is not None and frame.time > 0:
                # Output starts at 0: hold the first frame until it is due.
                return [self._emit(frame.image, t, "repeated") for t in self._fps_times_until(frame.time)]
            return []
        return [f for group in self._pair(prev, frame) for f in group]

    def flush(self) -> list[Frame]:
        out: list[Frame] = [f for group in self._pool.drain() for f in group]
        self._pool.close()
        last = self._prev
        if last is None:
            return out
        end = self.duration if self.duration and self.duration > last.time else (
            last.time + self.nominal_interval)
        if self.multiplier is not None:
            # Hold the last frame over its own interval so the output lasts as long as the input.
            step = (end - last.time) / self.multiplier
            for i in range(self.multiplier):
                out.append(self._emit(last.image, last.time + i * step,
                                      last.source if i == 0 else "repeated"))
        else:
            assert self.fps is not None
            fps = float(self.fps)
            n_total = max(self._next_k, math.floor(end * fps + 1e-6))
            while self._next_k < n_total:
                t = self._next_k / fps
                out.append(self._emit(last.image, t, last.source if abs(t - last.time) < 1e-6 else "repeated"))
                self._next_k += 1
        self._prev = None
        return out

    def describe(self) -> dict:
        return {"interpolated_frames": self.interpolated, "scene_cuts": self.cuts,
                "duplicate_pairs": self.duplicates}
