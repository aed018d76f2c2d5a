"""``source -> stages -> sink`` with a decoder thread, bounded queues and an encoder thread.

Memory is bounded by the queue sizes, not by the video's length. Stages are small
objects with ``process(frame) -> list[Frame]`` and ``flush() -> list[Frame]`` and run on
the calling thread (OpenCV, NumPy and FFmpeg release the GIL, so decode, process and
encode overlap on different cores). Cancellation and deadlines are checked per frame via
the :class:`JobContext`; an error in any thread stops the others and is re-raised.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from reelsmith.engine.context import JobContext
from reelsmith.errors import ProcessingError, ReelsmithError
from reelsmith.media.frame import Frame

_END = object()


class Stage(Protocol):
    name: str

    def process(self, frame: Frame) -> list[Frame]: ...

    def flush(self) -> list[Frame]: ...


@dataclass
class PipelineStats:
    frames_in: int = 0
    frames_out: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def fps_in(self) -> float:
        return self.frames_in / self.seconds if self.seconds else 0.0


class _Stop(Exception):
    pass


def _put(q: queue.Queue, item: object, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> object:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue


def run_pipeline(
    source: Iterable[Frame],
    stages: Sequence[Stage],
    sink: Callable[[Frame], None],
    ctx: JobContext,
    *,
    total_frames: int | None = None,
    queue_size: int = 8,
) -> PipelineStats:
    """Run frames from ``source`` through ``stages`` into ``sink``.

    Progress is reported to ``ctx`` as the fraction of ``total_frames`` consumed.
    """
    stats = PipelineStats(stage_seconds={s.name: 0.0 for s in stages})
    stop = threading.Event()
    errors: list[BaseException] = []
    q_in: queue.Queue = queue.Queue(maxsize=queue_size)
    q_out: queue.Queue = queue.Queue(maxsize=queue_size)
    started = time.monotonic()

    def decode() -> None:
        try:
            for frame in source:
                _put(q_in, frame, stop)
            _put(q_in, _END, stop)
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)
            stop.set()

    def encode() -> None:
        try:
            while True:
                item = _get(q_out, stop)
                if item is _END:
                    return
                sink(item)  # type: ignore[arg-type]
                stats.frames_out += 1
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            stop.set()

    t_dec = threading.Thread(target=decode, name="reelsmith-decode", daemon=True)
    t_enc = threading.Thread(target=encode, name="reelsmith-encode", daemon=True)
    t_dec.start()
    t_enc.start()

    def run_stages(frames: list[Frame], start: int) -> list[Frame]:
        for stage in stages[start:]:
            t0 = time.perf_counter()
            nxt: list[Frame] = []
            for f in frames:
                nxt.extend(stage.process(f))
            stats.stage_seconds[stage.name] += time.perf_counter() - t0
            frames = nxt
        return frames

    try:
        while True:
            item = _get(q_in, stop)
            if item is _END:
                break
            ctx.check()
            stats.frames_in += 1
            for out in run_stages([item], 0):  # type: ignore[list-item]
                _put(q_out, out, stop)
            if total_frames:
                ctx.progress(min(1.0, stats.frames_in / total_frames), done=stats.frames_in,
                             total=total_frames)
        # Flush stage by stage: what stage i flushes still goes through stages i+1...
        for i, stage in enumerate(stages):
            t0 = time.perf_counter()
            flushed = stage.flush()
            stats.stage_seconds[stage.name] += time.perf_counter() - t0
            for out in run_stages(flushed, i + 1):
                _put(q_out, out, stop)
        _put(q_out, _END, stop)
        while t_enc.is_alive():
            t_enc.join(timeout=0.1)
            ctx.check()
    except _Stop:
        pass
    except BaseException:
        stop.set()
        raise
    finally:
        if errors or ctx.cancelled:
            stop.set()
        t_dec.join(timeout=5)
        t_enc.join(timeout=5)
        if not errors and not ctx.cancelled and t_enc.is_alive():
            stop.set()
    if errors:
        exc = errors[0]
        if isinstance(exc, ReelsmithError):
            raise exc
        raise ProcessingError(f"Processing failed: {type(exc).__name__}: {exc}") from exc
    ctx.check()
    stats.seconds = time.monotonic() - started
    ctx.progress(1.0, done=stats.frames_in, total=total_frames, force=True)
    return stats
