"""The shared body of the video workflows: probe, build stages, stream, encode, report."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from reelsmith.engine.context import JobContext
from reelsmith.engine.pipeline import Stage, run_pipeline
from reelsmith.errors import InputError
from reelsmith.media.probe import MediaInfo, probe
from reelsmith.media.reader import VideoReader
from reelsmith.media.writer import VideoWriter
from reelsmith.workflows.params import EncodeParams


def media_summary(info: MediaInfo) -> dict[str, Any]:
    w, h = info.display_size
    return {
        "width": w, "height": h,
        "fps": round(float(info.fps), 4) if info.fps else None,
        "fps_exact": f"{info.fps.numerator}/{info.fps.denominator}" if info.fps else None,
        "duration": round(info.duration, 4), "frames": info.frame_count,
        "codec": info.codec, "pix_fmt": info.pix_fmt, "bit_depth": info.bit_depth,
        "has_audio": info.has_audio, "audio_codec": info.audio_codec,
        "variable_frame_rate": info.variable_frame_rate, "color": info.color.describe(),
    }


def require_video(info: MediaInfo, workflow: str) -> None:
    if info.kind != "video":
        raise InputError(f"The {workflow} workflow needs a video, but {Path(info.path).name} is an image.")
    if info.frame_count < 1 and info.duration <= 0:
        raise InputError(f"The video {Path(info.path).name} has no frames.")


def process_video(
    ctx: JobContext,
    src: Path,
    output: Path,
    *,
    info: MediaInfo,
    stages: Sequence[Stage],
    out_size: tuple[int, int],
    out_fps: Fraction,
    constant_rate: bool,
    encode: EncodeParams,
    expected_out_frames: int | None = None,
    stage_label: str = "processing",
    extra: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Decode ``src``, run ``stages``, encode to ``output`` with the source's audio and colour."""
    ctx.check()
    started = time.monotonic()
    reader = VideoReader(src, keep_depth=True, info=info)
    writer = VideoWriter(
        output, width=out_size[0], height=out_size[1], fps=out_fps, codec=encode.codec,
        crf=encode.crf, preset=encode.preset, bit_depth=info.bit_depth, color=info.color,
        audio_source=str(src) if info.has_audio else None, constant_rate=constant_rate,
    )
    ctx.stage(stage_label, 0.02, 0.98)
    try:
        stats = run_pipeline(reader, stages, lambda f: writer.write(f.image, f.time), ctx,
                             total_frames=info.frame_count or None)
        final = writer.close()
    except BaseException:
        writer.abort()
        raise
    ctx.stage("finishing", 0.98, 1.0)
    out_info = probe(final)
    meta: dict[str, Any] = {
        "input": media_summary(info),
        "output": media_summary(out_info) | {"path": str(final)},
        "audio": writer.audio_mode or "none",
        "frames_in": stats.frames_in,
        "frames_out": stats.frames_out,
        "seconds": round(time.monotonic() - started, 3),
        "processing_fps": round(stats.frames_in / max(stats.seconds, 1e-9), 2),
        "stage_seconds": {k: round(v, 3) for k, v in stats.stage_seconds.items()},
        "codec": writer.codec,
        "pix_fmt": writer.pix_fmt,
    }
    if (writer.enc_width, writer.enc_height) != out_size:
        meta["padded_to_even"] = [writer.enc_width, writer.enc_height]
    if extra is not None:
        meta.update(extra())
    ctx.progress(1.0, force=True)
    return meta
