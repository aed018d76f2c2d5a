"""Workflow ``upscale_and_interpolation``: both in one streaming pass (the RunPod worker's task)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from reelsmith.engine.context import JobContext
from reelsmith.media.probe import probe
from reelsmith.workflows.backends import backend_metadata
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.builders import build_interpolate, build_upscale
from reelsmith.workflows.params import EncodeParams, InterpolateFields, UpscaleFields
from reelsmith.workflows.video import process_video, require_video


class UpscaleInterpolateParams(UpscaleFields, InterpolateFields, EncodeParams):
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
        w, h = info.display_size
        interp_stage, out_fps, constant, idesc = build_interpolate(info, p)
        up_stage, size, udesc = build_upscale(w, h, p)
        meta = process_video(ctx, src, Path(output), info=info, stages=[interp_stage, up_stage],
                             out_size=size, out_fps=out_fps, constant_rate=constant, encode=p,
                             stage_label="upscale_and_interpolation", extra=interp_stage.describe)
        # Roles in stage order: interpolation runs first, then the upscaler.
        meta.update(idesc, **udesc, workflow=self.name,
                    **backend_metadata({"interpolate": idesc["interpolator"],
                                        "upscale": udesc["upscaler"]}))
        return WorkflowResult({"video": Path(meta["output"]["path"])}, meta)
