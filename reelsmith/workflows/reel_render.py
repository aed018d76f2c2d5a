"""Render a reel: chosen segments of a video, joined into one file with clean cuts.

It runs on the engine like every video workflow: a segment source (seeking decode, frames
placed on a constant output grid: :class:`~reelsmith.media.segments.SegmentSource`) ->
stages (vertical framing, crossfade, burned subtitles: :mod:`reelsmith.workflows.reel_stages`)
-> a :class:`~reelsmith.media.writer.VideoWriter` sink, so progress and cancellation go
through the job's context. The picture is written to a private temporary file; then the
source audio is cut to exactly the frames kept (short fades at cuts, equal-power crossfades
at dissolves) and muxed with it into a temporary sibling of the output that is renamed into
place (:mod:`reelsmith.media.audio_edit`, :mod:`reelsmith.media.atomic`). Post steps
(:mod:`reelsmith.workflows.post`) run after the reel's own stages in the same pipeline; the
audio does not depend on them (it is cut by source time), so a step that changes the frame
rate keeps it in sync.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from reelsmith.engine.context import JobContext
from reelsmith.engine.pipeline import Stage, run_pipeline
from reelsmith.errors import InputError
from reelsmith.media.atomic import commit, discard, temp_path_for
from reelsmith.media.audio_edit import cut_audio, mux_audio
from reelsmith.media.probe import MediaInfo, probe
from reelsmith.media.segments import SegmentSource, normalise_segments
from reelsmith.media.subtitles import Cue
from reelsmith.media.writer import VideoWriter
from reelsmith.workflows.post import Stream, build_post_chain
from reelsmith.workflows.reel_stages import CrossfadeStage, SubtitleStage, VerticalStage

REEL_SUFFIXES = (".mp4", ".mov", ".mkv")


@dataclass
class ReelResult:
    path: Path
    width: int
    height: int
    fps: float
    frames: int
    duration: float
    has_audio: bool
    segments: list[dict] = field(default_factory=list)  # source and output times per segment
    post: dict[str, Any] = field(default_factory=dict)  # PostChain.metadata(): {} or {"post": [...]}
    post_roles: dict[str, dict] = field(default_factory=dict)  # backend roles of the post steps


def render_reel(
    source: str | os.PathLike,
    segments: Sequence[tuple[float, float]],
    output: str | os.PathLike,
    *,
    vertical: str = "off",
    crossfade: float = 0.0,
    cues: Sequence[Cue] | None = None,
    audio_fade: float = 0.02,
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = "veryfast",
    ctx: JobContext | None = None,
    info: MediaInfo | None = None,
    post: Sequence[str] = (),
) -> ReelResult:
    """Write the ``segments`` (source seconds) of ``source`` one after another to ``output``.

    ``vertical``: "off", "center", "blur-pad" or "follow" (9:16 output). ``crossfade``:
    seconds of dissolve at each join (at most 0.4 of the shortest segment; 0: cuts with short
    audio fades of ``audio_fade`` seconds). ``cues``: subtitles on the *output* timeline,
    burned in. ``post``: post steps run on the joined frames (the result's size, rate and
    frame count follow the last one). Progress is reported to ``ctx`` within its current stage.

    Raises :class:`InputError` for an output that is not .mp4/.mov/.mkv or whose folder is
    missing, an unknown vertical mode, or segments that hold no frame of the video.
    """
    ctx = ctx or JobContext()
    info = info or probe(source)
    output = Path(output)
    if output.suffix.lower() not in REEL_SUFFIXES:
        raise InputError(f"Cannot write the reel to {output.name}: use .mp4, .mov or .mkv.")
    if not output.parent.is_dir():
        raise InputError(f"The output folder {output.parent} does not exist.")
    duration = info.duration or 0.0
    segs = normalise_segments(segments, duration if duration > 0 else 1e12)
    if not segs:
        raise InputError("No segment to cut lies inside the video.")
    fps = info.fps if info.fps else Fraction(25)
    fps_f = float(fps)
    framing = VerticalStage(*info.display_size, vertical)
    ow, oh = framing.out
    shortest = min(e - s for s, e in segs)
    xf = max(0.0, min(crossfade, 0.4 * shortest)) if len(segs) > 1 else 0.0
    k = int(round(xf * fps_f))
    stages: list[Stage] = []
    if vertical != "off":
        stages.append(framing)
    if k > 0:
        stages.append(CrossfadeStage(k, fps_f))
    if cues:
        stages.append(SubtitleStage(cues, ow, oh))
    chain = build_post_chain(post, Stream("video", ow, oh, fps=fps, source=info))
    stages.extend(chain.stages)
    final = chain.stream
    out_fps = final.fps or fps

    src = SegmentSource(source, info, segs, check=ctx.check)
    with tempfile.TemporaryDirectory(prefix=".reelsmith-edit-", dir=output.parent) as tmpd:
        vtmp = Path(tmpd) / ("video" + output.suffix.lower())
        writer = VideoWriter(vtmp, width=final.width, height=final.height, fps=out_fps,
                             codec=codec, crf=crf, preset=preset, color=info.color,
                             constant_rate=True)
        try:
            stats = run_pipeline(src, stages, lambda f: writer.write(f.image), ctx,
                                 total_frames=src.total_slots)
            if not any(src.counts):
                raise InputError("None of the chosen segments holds a video frame.")
            writer.close()
        except BaseException:
            writer.abort()
            raise
        # Clips that got frames (a video that ends early leaves the last ones empty).
        kept = [(segs[i][0], c) for i, c in enumerate(src.counts) if c > 0]
        overlaps = [min(k, c) for _, c in kept[1:]]  # frames lost to each dissolve
        frames = sum(c for _, c in kept) - sum(overlaps)
        seg_meta = _segment_times(kept, overlaps, fps_f)
        has_audio = False
        final_tmp = temp_path_for(output)
        try:
            audio = cut_audio(source, [(t0, c / fps_f) for t0, c in kept],
                              [o / fps_f for o in overlaps], audio_fade, ctx.check) \
                if info.has_audio else None
            if audio is not None:
                samples, rate = audio
                mux_audio(vtmp, samples, rate, final_tmp)
                has_audio = True
                commit(final_tmp, output)
            else:
                commit(vtmp, output)
        except BaseException:
            discard(final_tmp)
            raise
    if chain.built:  # the steps may change the rate and the frame count, not the duration
        frames, fps_f = stats.frames_out, float(out_fps)
    return ReelResult(output, final.width, final.height, fps_f, frames, round(frames / fps_f, 3),
                      has_audio, seg_meta, chain.metadata(), chain.roles)


def _segment_times(kept: list[tuple[float, int]], overlaps: list[int], fps: float) -> list[dict]:
    """Source and output times of each kept clip: (source start, frames) and the frames each
    join overlaps."""
    out = []
    pos = 0.0
    for n, (t0, c) in enumerate(kept):
        if n > 0:
            pos -= overlaps[n - 1] / fps
        out.append({"source_start": round(t0, 3), "source_end": round(t0 + c / fps, 3),
                    "output_start": round(pos, 3), "output_end": round(pos + c / fps, 3),
                    "frames": c})
        pos += c / fps
    return out
