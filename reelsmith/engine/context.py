"""Progress, cancellation and deadlines, carried through a job.

A :class:`JobContext` is handed to every workflow. Processing code calls ``ctx.check()``
once per frame or chunk (it raises :class:`Cancelled`, or :class:`TimedOut` past the
deadline), enters each part of the job with ``ctx.stage(name, start, end)`` (the share of the
whole job that part covers) and reports ``ctx.progress(fraction, message=...)`` within it;
the context turns that into one monotonic overall figure with an ETA. Faces subscribe with a
callback (terminal progress bar, server event stream, RunPod progress update); a failing
callback never stops the job.

Long generative steps (a diffusion denoising loop) may also publish a small preview image
with ``ctx.preview(rgb)``: it rides on the next progress event as a JPEG data URI
(``ProgressEvent.preview``), at most one every ``preview_interval_s`` seconds, never stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from reelsmith.errors import Cancelled, TimedOut

#: The longest side of a published preview, in pixels.
PREVIEW_SIDE = 192


@dataclass
class ProgressEvent:
    stage: str
    progress: float  # 0..1 over the whole job
    message: str = ""
    eta_seconds: float | None = None
    done: int | None = None  # units done in this stage (frames, chunks)
    total: int | None = None
    preview: str | None = None  # a small JPEG as a data URI (see JobContext.preview)

    def to_dict(self) -> dict:
        return asdict(self)


def preview_data_uri(image: np.ndarray, side: int = PREVIEW_SIDE, quality: int = 70) -> str:
    """``image`` (HxWx3 uint8 RGB) shrunk to at most ``side`` px and encoded as a JPEG data URI."""
    import base64

    import cv2

    rgb = np.asarray(image)
    if rgb.ndim != 3 or rgb.shape[2] < 3 or rgb.dtype != np.uint8:
        raise ValueError(f"a preview must be HxWx3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    h, w = rgb.shape[:2]
    k = min(1.0, side / max(h, w))
    if k < 1.0:
        rgb = cv2.resize(rgb[..., :3], (max(1, round(w * k)), max(1, round(h * k))),
                         interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., 2::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the preview could not be encoded")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


ProgressCallback = Callable[[ProgressEvent], None]


class JobContext:
    """Shared by a job's threads. Thread-safe for ``progress``/``check``/``cancel``."""

    def __init__(
        self,
        *,
        on_progress: ProgressCallback | None = None,
        cancel_event: threading.Event | None = None,
        timeout_s: float | None = None,
        work_dir: Path | None = None,
        min_interval_s: float = 0.1,
        preview_interval_s: float = 0.5,
    ) -> None:
        self._callbacks: list[ProgressCallback] = [on_progress] if on_progress else []
        self.cancel_event = cancel_event or threading.Event()
        self.started = time.monotonic()
        self.deadline = self.started + timeout_s if timeout_s else None
        self.timeout_s = timeout_s
        self.work_dir = work_dir
        self._min_interval = min_interval_s
        self._last_emit = 0.0
        self._lock = threading.Lock()
        self.last_event: ProgressEvent | None = None
        self._stage_span = (0.0, 1.0)
        self._stage_name = ""
        self._last_fraction = 0.0
        self._last_counts: tuple[int | None, int | None] = (None, None)
        self._preview_interval = preview_interval_s
        self._last_preview = float("-inf")

    # -- cancellation -------------------------------------------------------------
    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise if the job was cancelled or ran past its deadline."""
        if self.cancel_event.is_set():
            raise Cancelled("The job was cancelled.")
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.cancel_event.set()
            raise TimedOut(f"The job ran longer than its {self.timeout_s:g} s limit and was stopped.")

    # -- progress -----------------------------------------------------------------
    def subscribe(self, callback: ProgressCallback) -> None:
        self._callbacks.append(callback)

    def stage(self, name: str, start: float, end: float) -> None:
        """Enter a stage that covers [start, end] of the overall progress."""
        self._stage_name = name
        self._stage_span = (start, end)
        self.progress(0.0, force=True)

    def progress(self, fraction: float, *, message: str = "", done: int | None = None,
                 total: int | None = None, force: bool = False, preview: str | None = None) -> None:
        """Report progress *within the current stage* (0..1)."""
        now = time.monotonic()
        self._last_fraction = fraction
        self._last_counts = (done, total)
        if not force and now - self._last_emit < self._min_interval and fraction < 1.0:
            return
        a, b = self._stage_span
        overall = max(0.0, min(1.0, a + (b - a) * max(0.0, min(1.0, fraction))))
        elapsed = now - self.started
        eta = elapsed * (1 - overall) / overall if overall > 0.01 else None
        ev = ProgressEvent(self._stage_name, overall, message, eta, done, total, preview)
        with self._lock:
            self._last_emit = now
            self.last_event = ev
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb(ev)
            except Exception:  # noqa: BLE001 - a broken listener must not kill the job
                pass

    def preview_due(self) -> bool:
        """Whether :meth:`preview` would send one now (someone listens and the interval has
        passed): lets a caller skip making the preview image at all."""
        return bool(self._callbacks) and time.monotonic() - self._last_preview >= self._preview_interval

    def preview(self, image: np.ndarray, *, message: str = "") -> bool:
        """Publish ``image`` (HxWx3 uint8 RGB, any size) as a small preview on a progress event
        at the current progress. At most one per ``preview_interval_s``; returns whether it
        was sent. Nothing is sent (and nothing is encoded) when no one listens."""
        if not self.preview_due():
            return False
        self._last_preview = time.monotonic()
        done, total = self._last_counts
        self.progress(self._last_fraction, message=message, done=done, total=total, force=True,
                      preview=preview_data_uri(image))
        return True

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
