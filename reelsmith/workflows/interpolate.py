"""Workflow ``interpolate``: raise the frame rate by a multiplier or to a target fps."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from reelsmith.engine.context import JobContext
from reelsmith.media.probe import probe
from reelsmith.workflows.backends import backend_metadata
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.builders import build_interpolate
from reelsmith.workflows.params import EncodeParams, InterpolateFields
from reelsmith.workflows.post import PostFields, Stream, build_post_chain
from reelsmith.workflows.video import process_video, require_video


class InterpolateParams(InterpolateFields, PostFields, EncodeParams):
    pass


@register
class Interpolate(Workflow):
    name = "interpolate"
    title = "Frame interpolation"
    description = ("Make motion smoother: 2x/3x/4x the frame rate or convert to a fixed rate such "
                   "as 60 fps, never morphing across scene cuts; audio kept in sync.")
    inputs = (InputSpec("video", kinds=("video",)),)
    Params = InterpolateParams

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: BaseModel,
            output: Path) -> WorkflowResult:
        p: InterpolateParams = self.parse_params(params)  # type: ignore[assignment]
        src = Path(inputs["video"])
        info = probe(src)
        require_video(info, self.name)
        stage, out_fps, constant, desc = build_interpolate(info, p)
        post = build_post_chain(p.post, Stream.of(info).but(fps=out_fps, variable_rate=not constant))
        out = post.stream
        meta = process_video(ctx, src, Path(output), info=info, stages=[stage, *post.stages],
                             out_size=out.size, out_fps=out.fps or out_fps,
                             constant_rate=not out.variable_rate, encode=p,
                             stage_label="interpolate",
                             extra=lambda: stage.describe() | post.metadata())
        meta.update(desc, workflow=self.name,
                    **backend_metadata({"interpolate": desc["interpolator"], **post.roles}))
        return WorkflowResult({"video": Path(meta["output"]["path"])}, meta)
