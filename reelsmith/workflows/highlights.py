"""Highlight reel: turn a long video into a short one that keeps its best moments.

Analysis (one low-resolution decode) -> fused score -> segment selection -> clean cut and
join (workflows/reel_render.py), optionally vertical and subtitled, plus a JSON report. Metadata says
``processing_method`` ("multimodal" when a transcript or LLM score was used, "visual_only"
otherwise, with the reason) and carries a one-sentence ``message``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reelsmith.engine.context import JobContext
from reelsmith.errors import UnsupportedMediaError
from reelsmith.media.atomic import commit, discard, temp_path_for
from reelsmith.media.subtitles import Cue, write_subtitles
from reelsmith.media.writer import CODEC_ALIASES
from reelsmith.workflows.backends import backend_metadata
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.params import ENCODING, Codec
from reelsmith.workflows.post import PostFields
from reelsmith.workflows.schema import param

log = logging.getLogger(__name__)


class Weights(BaseModel):
    """How much each signal counts in the fused score (0 ignores it)."""

    model_config = ConfigDict(extra="forbid")
    loudness: float = Field(1.0, ge=0, le=10)
    dynamics: float = Field(0.7, ge=0, le=10, description="loudness above its surroundings")
    speech: float = Field(0.6, ge=0, le=10)
    motion: float = Field(1.0, ge=0, le=10)
    semantic: float = Field(1.0, ge=0, le=10, description="CLIP-style model, when installed")
    llm: float = Field(1.5, ge=0, le=10, description="LLM transcript score, when configured")


class HighlightsParams(PostFields):
    model_config = ConfigDict(extra="forbid")
    target_duration: float | Literal["auto"] = param(
        60.0, unit="s", group="Reel", order=1, cli={"flag": "--duration"},
        description='Reel length in seconds, or "auto" (from the input\'s length and content).')
    min_clip: float = param(2.0, gt=0, le=120, unit="s", group="Reel", order=2,
                            description="Shortest clip, seconds.")
    max_clip: float = param(12.0, gt=0, le=600, unit="s", group="Reel", order=3,
                            description="Longest clip, seconds.")
    crossfade: float = param(0.0, ge=0, le=3, unit="s", group="Reel", order=4,
                             description="Dissolve between clips, seconds (0: cuts).")
    merge_gap: float = param(1.0, ge=0, le=10, unit="s", group="Reel", order=5, advanced=True,
                             description="Join picks closer than this, seconds.")
    vertical: Literal["off", "center", "blur-pad", "follow"] = param(
        "off", group="Format", order=10, cli={"const": "center"},
        description="9:16 output: centre crop, blurred padding, or a crop following the subject.")
    subtitles: Literal["off", "srt", "burn"] = param(
        "off", group="Format", order=11, cli={"const": "srt"},
        description="SRT/VTT sidecars from the transcript; 'burn' also draws them on the video.")
    method: Literal["auto", "visual", "multimodal"] = param(
        "auto", group="Analysis", order=20,
        description="visual: no transcript/LLM; multimodal/auto: use them when available.")
    language: str = param("auto", max_length=16, group="Analysis", order=21,
                          examples=["auto", "en", "de", "fr"],
                          description='Transcript language code or "auto".')
    scene_detector: Literal["content", "adaptive"] = param(
        "content", group="Analysis", order=22, advanced=True,
        description="PySceneDetect detector: content (default) or adaptive (fast camera motion).")
    weights: Weights = param(
        default_factory=Weights, group="Analysis", order=23, advanced=True,
        description="Signal weights: loudness, dynamics, speech, motion, semantic, llm.")
    codec: Codec | None = param(None, group=ENCODING, order=90, value_aliases=CODEC_ALIASES,
                                description="Video codec (default h264).")
    crf: int | None = param(None, ge=0, le=63, group=ENCODING, order=91,
                            description="Encoder quality (lower is better).")

    @field_validator("target_duration")
    @classmethod
    def _positive(cls, v: float | str) -> float | str:
        if isinstance(v, float | int) and v <= 0:
            raise ValueError("must be a positive number of seconds or 'auto'")
        return v

    @model_validator(mode="after")
    def _clip_order(self) -> HighlightsParams:
        if self.min_clip > self.max_clip:
            raise ValueError(f"min_clip ({self.min_clip:g}) is longer than max_clip ({self.max_clip:g})")
        return self


def map_cues(transcript_cues: Iterable[Cue], mapping: list[tuple[float, float, float]]) -> list[Cue]:
    """Transcript cues (source time) -> output-timeline cues for [(src_start, src_end, out_start)]."""
    out = []
    for s0, s1, o0 in mapping:
        for c in transcript_cues:
            a, b = max(c.start, s0), min(c.end, s1)
            if b - a > 0.2:
                out.append(Cue(round(o0 + a - s0, 3), round(o0 + b - s0, 3), c.text))
    return out


@register
class Highlights(Workflow):
    name = "highlights"
    title = "Highlight reel"
    description = ("Turn a long video into a short reel of its best moments (scenes, loudness, "
                   "speech, motion; transcript and LLM when available), optionally vertical "
                   "and subtitled.")
    inputs = (InputSpec("video", ("video",), description="the long video"),)
    Params = HighlightsParams

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: HighlightsParams,
            output: Path) -> WorkflowResult:
        from reelsmith.analysis import fusion
        from reelsmith.analysis.pipeline import AnalysisOptions, analyze
        from reelsmith.analysis.scenes import scenes_from_cuts
        from reelsmith.config import get_settings
        from reelsmith.media.probe import probe
        from reelsmith.workflows.reel_render import render_reel

        src = Path(inputs["video"])
        output = Path(output)
        info = probe(src)
        if info.kind != "video":
            raise UnsupportedMediaError(f"The input {src.name} is an image; a highlight reel needs a video.")
        settings = get_settings()
        ctx.stage("analyse", 0.0, 0.55)
        opts = AnalysisOptions(
            scene_detector=params.scene_detector, language=params.language,
            use_transcript=params.method != "visual" or params.subtitles != "off",
            use_llm=params.method != "visual", use_semantic=params.method != "visual",
            models_dir=settings.resolved_models_dir,
        )
        an = analyze(src, ctx, opts, info=info)
        ctx.check()
        ctx.stage("select", 0.55, 0.6)
        weights = params.weights.model_dump()
        if params.method == "visual":
            weights["llm"] = 0.0
        fused = fusion.fuse(an.signals, weights)
        duration = an.duration
        if params.target_duration == "auto":
            target, target_reason = fusion.auto_target(duration, fused.score, an.hop)
        else:
            target = float(params.target_duration)
            target_reason = "requested"
        whole = target >= duration - 1e-3
        scenes = scenes_from_cuts(an.cuts, duration)
        splits = fusion.split_long_scenes(scenes, fused.score, an.hop, params.max_clip,
                                          min(params.min_clip, params.max_clip))

        def choose(budget: float) -> fusion.Selection:
            return fusion.select(fused.score, an.hop, duration, budget, min_clip=params.min_clip,
                                 max_clip=params.max_clip, cuts=an.cuts, split_points=splits,
                                 speech_segments=an.speech.segments, merge_gap=params.merge_gap)

        sel = choose(target)
        if params.crossfade > 0 and len(sel.segments) > 1 and not whole:
            # Dissolves overlap clips, so pick a little more to still fill the target.
            more = choose(target + params.crossfade * (len(sel.segments) - 1))
            if more.total - params.crossfade * (len(more.segments) - 1) <= target + 1e-6:
                sel = more
        ctx.progress(1.0, force=True)

        # --- processing method and its reason --------------------------------------------
        used_transcript = an.transcript is not None and params.method != "visual"
        used_llm = "llm" in fused.used
        if used_transcript or used_llm:
            method = "multimodal"
            reason = "a transcript" + (" and LLM scores were used" if used_llm else " was used")
        else:
            method = "visual_only"
            if params.method == "visual":
                reason = "method=visual was requested"
            else:
                reason = f"no transcript: {an.backends['transcript']['reason']}"
        if not fused.used:
            reason += "; no signal varies over the video, so clips are spread evenly"

        # --- subtitles -------------------------------------------------------------------
        xf = params.crossfade if len(sel.segments) > 1 else 0.0
        mapping, pos = [], 0.0
        for s, e in sel.segments:
            mapping.append((s, e, pos))
            pos += (e - s) - xf
        cues = []
        subtitle_note = "not requested"
        if params.subtitles != "off":
            if an.transcript is not None:
                cues = map_cues(an.transcript.cues, mapping)
                subtitle_note = f"{len(cues)} cues from the transcript"
            else:
                subtitle_note = ("subtitles were requested but there is no transcript ("
                                 + an.backends["transcript"]["reason"] + ")")

        ctx.stage("render", 0.6, 0.98)
        res = render_reel(src, sel.segments, output, vertical=params.vertical, crossfade=xf,
                          cues=cues if params.subtitles == "burn" else None, codec=params.codec,
                          crf=params.crf, ctx=ctx, info=info, post=params.post)
        ctx.stage("report", 0.98, 1.0)
        outputs: dict[str, Path] = {"video": res.path}
        if cues:
            out_map = [(m["source_start"], m["source_end"], m["output_start"]) for m in res.segments]
            cues = map_cues(an.transcript.cues, out_map)
            outputs["srt"] = write_subtitles(cues, output.with_suffix(".srt"), "srt")
            outputs["vtt"] = write_subtitles(cues, output.with_suffix(".vtt"), "vtt")

        seg_meta = []
        for (s, e), rm in zip(sel.segments, res.segments, strict=False):
            a, b = int(s / an.hop), max(int(s / an.hop) + 1, int(np.ceil(e / an.hop)))
            seg_meta.append({
                "start": round(s, 3), "end": round(e, 3), "duration": round(e - s, 3),
                "output_start": rm["output_start"],
                "score": round(float(fused.score[a:b].mean()), 4),
                "scores": {k: round(float(v[a:b].mean()), 4) for k, v in fused.normalised.items()},
                "loudness_db": round(float(an.signals["loudness"][a:b].mean()), 2),
                "speech_ratio": round(float(an.signals["speech"][a:b].mean()), 3),
            })
        if whole:
            message = (f"The target duration ({target:g} s) is not shorter than the video "
                       f"({duration:.1f} s), so the whole video is returned.")
        else:
            message = (f"Made a {res.duration:.1f} s reel from {len(seg_meta)} segment(s) of a "
                       f"{duration:.1f} s video ({method}: {reason}).")
        metadata = {
            "workflow": self.name,
            "processing_method": method,
            "reason": reason,
            "message": message,
            "whole_video": whole,
            "input_duration": round(duration, 3),
            "target_duration": round(target, 3),
            "target_reason": target_reason,
            "output_duration": res.duration,
            "output_width": res.width, "output_height": res.height, "fps": res.fps,
            "has_audio": res.has_audio,
            "input_has_audio": an.has_audio,
            "audio_seconds": round(an.audio_seconds, 3),
            "scene_count": len(scenes),
            "scene_cuts": [round(c, 3) for c in an.cuts],
            "segments": seg_meta,
            "speech_ratio": round(an.speech.ratio, 4),
            "speech_segments": [list(s) for s in an.speech.segments[:500]],
            "loudness": an.loudness,
            "signals": {k: {**v, "used": k in fused.used,
                            **({"dropped": fused.dropped[k]} if k in fused.dropped else {})}
                        for k, v in an.backends.items()} | {
                "dynamics": {"available": an.has_audio, "backend": "rms-db-vs-median",
                             "used": "dynamics" in fused.used,
                             "reason": fused.dropped.get("dynamics", "")}},
            "signals_used": fused.used,
            "weights": weights,
            "vertical": params.vertical,
            "subtitles": params.subtitles,
            "subtitle_note": subtitle_note,
            "crossfade": xf,
            "selection_notes": sel.notes,
            "timings": {k: round(v, 3) for k, v in an.timings.items()},
            "analysis": an.extra | {"frames_analysed": an.frames_analysed},
            "transcript_language": an.transcript.language if an.transcript else None,
            **res.post,
            # Every analysis that ran is a role; its backend names the library or method.
            **backend_metadata({k: v for k, v in an.backends.items() if v.get("available")}
                               | res.post_roles),
        }
        report = output.with_name(output.stem + ".report.json")
        tmp = temp_path_for(report)
        try:
            tmp.write_text(json.dumps(metadata, indent=2), encoding="utf-8")
            outputs["report"] = commit(tmp, report)
        except BaseException:
            discard(tmp)
            raise
        ctx.progress(1.0, force=True)
        return WorkflowResult(outputs=outputs, metadata=metadata)
