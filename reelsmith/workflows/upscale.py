"""Workflow ``upscale``: videos and still images, built-in Lanczos+sharpening or a model."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from reelsmith.engine.context import JobContext
from reelsmith.media.images import read_image, write_image
from reelsmith.media.probe import probe
from reelsmith.workflows.backends import backend_metadata
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.builders import build_upscale
from reelsmith.workflows.params import EncodeParams, UpscaleFields
from reelsmith.workflows.post import PostFields, Stream, build_post_chain
from reelsmith.workflows.video import media_summary, process_video

IMAGE_OUT = {".png", ".jpg", ".jpeg", ".webp"}


class UpscaleParams(UpscaleFields, PostFields, EncodeParams):
    pass


@register
class Upscale(Workflow):
    name = "upscale"
    title = "Upscale"
    description = ("Enlarge a video or image by 2x/3x/4x or to a target height, keeping audio, "
                   "timing and colours.")
    inputs = (InputSpec("video", kinds=("video", "image"),
                        description="A video (MP4, MOV, MKV, WebM...) or an image (PNG, JPEG, WebP)."),)
    Params = UpscaleParams

    def output_suffix(self, inputs: Mapping[str, Path], params: BaseModel) -> str:
        src = Path(inputs["video"])
        suffix = src.suffix.lower()
        if suffix in IMAGE_OUT:
            return suffix
        if suffix in {".bmp", ".tif", ".tiff"}:
            return ".png"
        return ".webm" if getattr(params, "codec", None) in ("vp9",) and suffix == ".webm" else ".mp4"

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: BaseModel,
            output: Path) -> WorkflowResult:
        p: UpscaleParams = self.parse_params(params)  # type: ignore[assignment]
        src = Path(inputs["video"])
        info = probe(src)
        if info.kind == "image":
            return self._image(ctx, src, p, Path(output))
        w, h = info.display_size
        stage, size, desc = build_upscale(w, h, p)
        post = build_post_chain(p.post, Stream.of(info).but(width=size[0], height=size[1]))
        out = post.stream
        meta = process_video(ctx, src, Path(output), info=info, stages=[stage, *post.stages],
                             out_size=out.size, out_fps=out.fps or 25,
                             constant_rate=not out.variable_rate, encode=p, stage_label="upscale",
                             extra=post.metadata)
        meta.update(desc, workflow=self.name,
                    **backend_metadata({"upscale": desc["upscaler"], **post.roles}))
        return WorkflowResult({"video": Path(meta["output"]["path"])}, meta)

    def _image(self, ctx: JobContext, src: Path, p: UpscaleParams, output: Path) -> WorkflowResult:
        started = time.monotonic()
        ctx.stage("upscale", 0.0, 1.0)
        image, info = read_image(src)
        h, w = image.shape[:2]
        stage, size, desc = build_upscale(w, h, p)
        post = build_post_chain(p.post, Stream("image", *size))
        ctx.check()
        out = stage.upscaler.upscale(image)
        if stage.resize is not None:
            out = stage.resize(out)
        ctx.check()
        out = post.apply_image(out)
        final = write_image(output, out)
        ctx.progress(1.0, force=True)
        meta = {
            "workflow": self.name,
            "input": {"width": w, "height": h, "kind": "image", "alpha": image.shape[2] == 4},
            "output": {"width": out.shape[1], "height": out.shape[0], "path": str(final),
                       "alpha": out.ndim == 3 and out.shape[2] == 4},
            "seconds": round(time.monotonic() - started, 3),
            **desc,
            **post.metadata(),
            **backend_metadata({"upscale": desc["upscaler"], **post.roles}),
        }
        return WorkflowResult({"image": final}, meta)


__all__ = ["Upscale", "UpscaleParams", "media_summary"]
