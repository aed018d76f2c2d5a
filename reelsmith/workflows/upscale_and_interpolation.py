"""Workflow ``upscale_and_interpolation``: both in one streaming pass (the RunPod worker's task).

It is the ``interpolate`` workflow followed by the ``upscale`` post step
(:mod:`reelsmith.workflows.post`), built from its own upscale fields; it keeps its historic
metadata (``upscaler``/``interpolator`` keys, roles ``interpolate`` and ``upscale``) and takes
a ``post`` list of its own after both.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from reelsmith.engine.context import JobContext
from reelsmith.media.probe import probe
from reelsmith.workflows.backends import backend_metadata
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.builders import build_interpolate
from reelsmith.workflows.params import EncodeParams, InterpolateFields, UpscaleFields
from reelsmith.workflows.post import PostFields, Stream, build_post_chain, build_post_step
from reelsmith.workflows.video import process_video, require_video


class UpscaleInterpolateParams(UpscaleFields, InterpolateFields, PostFields, EncodeParams):
    pass


@register
class UpscaleAndInterpolation(Workflow):
    name = "upscale_and_interpolation"
    title = "Upscale + interpolate"
    description = ("Upscale a video and raise its frame rate in one pass. Interpolation runs on "
                   "the original resolution first (cheaper, same result), then every frame is upscaled.")
    inputs = (InputSpec("video", kinds=("video",)),)
    Params = UpscaleInterpolateParams

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: BaseModel,
            output: Path) -> WorkflowResult:
        p: UpscaleInterpolateParams = self.parse_params(params)  # type: ignore[assignment]
        src = Path(inputs["video"])
        info = probe(src)
        require_video(info, self.name)
        interp_stage, out_fps, constant, idesc = build_interpolate(info, p)
        interpolated = Stream.of(info).but(fps=out_fps, variable_rate=not constant)
        up = build_post_step("upscale", p, interpolated)
        post = build_post_chain(p.post, up.stream)
        out = post.stream
        meta = process_video(ctx, src, Path(output), info=info,
                             stages=[interp_stage, up.stage, *post.stages],  # type: ignore[list-item]
                             out_size=out.size, out_fps=out.fps or out_fps,
                             constant_rate=not out.variable_rate, encode=p,
                             stage_label="upscale_and_interpolation",
                             extra=lambda: interp_stage.describe() | post.metadata())
        # Roles in stage order: interpolation runs first, then the upscaler, then post steps.
        meta.update(idesc, upscaler=up.description, workflow=self.name,
                    **backend_metadata({"interpolate": idesc["interpolator"],
                                        "upscale": up.description, **post.roles}))
        return WorkflowResult({"video": Path(meta["output"]["path"])}, meta)
