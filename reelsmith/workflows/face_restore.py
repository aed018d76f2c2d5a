"""Workflow ``face_restore``: restore the faces of an image or a video; also the post step
``face_restore`` any video- or image-producing workflow can end with.

A face restoration model (GFPGAN, CodeFormer, RestoreFormer++, GPEN ...) when one is installed
or named; otherwise the built-in restoration, which denoises and sharpens inside the face mask
and invents no detail. Faces are tracked in video so restored faces do not jitter.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from reelsmith.engine.context import JobContext
from reelsmith.media.probe import probe
from reelsmith.ops.face_editors import BuiltinRestore, ModelRestore
from reelsmith.ops.face_process import FaceProcessor
from reelsmith.workflows.backends import describe_of
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.faces_common import (
    FaceFields,
    FaceStage,
    build_finder,
    build_masker,
    output_suffix_for,
    run_image,
    run_video,
)
from reelsmith.workflows.params import EncodeParams
from reelsmith.workflows.post import PostFields, PostSpec, PostStep, Stream, fields_from_spec, register_post_step
from reelsmith.workflows.schema import param


class FaceRestoreFields(BaseModel):
    model: str = param("auto", group="Face restore", order=10, examples=["auto", "builtin"],
                       description="auto | builtin | a catalog model name | a path to weights.")
    strength: float = param(0.8, ge=0, le=1, group="Face restore", order=11,
                            description="How much of the restored face replaces the original (0-1).")
    fidelity: float | None = param(None, ge=0, le=1, group="Face restore", order=12, advanced=True,
                                   description="CodeFormer's fidelity weight (0: best quality, "
                                               "1: closest to the input); other models ignore it.")


class FaceRestoreParams(FaceRestoreFields, FaceFields, PostFields, EncodeParams):
    pass


class FaceRestoreStep(FaceRestoreFields, FaceFields):
    """The options of the ``face_restore`` post step (no encoding, no nested post)."""


def build_processor(p: Any) -> tuple[FaceProcessor, dict[str, dict[str, Any]]]:
    """The processor for restore params ``p`` and its backend roles."""
    from reelsmith.models.face_restorers import select_face_restorer

    finder = build_finder(p)
    restorer = select_face_restorer(p.model, fidelity=p.fidelity)
    editor = BuiltinRestore(p.strength) if restorer is None else ModelRestore(restorer, p.strength)
    masker = build_masker(p)
    roles = {"face_detect": finder.describe(), "face_restore": describe_of(editor),
             "face_mask": describe_of(masker)}
    return FaceProcessor(finder, editor, masker, faces=p.faces), roles


@register
class FaceRestore(Workflow):
    name = "face_restore"
    title = "Face restore"
    description = ("Restore the faces in a photo or a video: a restoration model when installed, "
                   "else built-in denoise and sharpening inside the face mask; audio kept.")
    inputs = (InputSpec("video", kinds=("video", "image"),
                        description="A photo or a video with faces."),)
    Params = FaceRestoreParams

    def output_suffix(self, inputs: Mapping[str, Path], params: BaseModel) -> str:
        return output_suffix_for(Path(inputs["video"]))

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: BaseModel,
            output: Path) -> WorkflowResult:
        p: FaceRestoreParams = self.parse_params(params)  # type: ignore[assignment]
        src = Path(inputs["video"])
        info = probe(src)
        processor, roles = build_processor(p)
        if info.kind == "image":
            outputs, meta = run_image(ctx, src, Path(output), processor, p, workflow=self.name,
                                      roles=roles)
            return WorkflowResult(outputs, meta)
        meta = run_video(ctx, src, Path(output), info, processor, p, workflow=self.name, roles=roles)
        return WorkflowResult({"video": Path(meta["output"]["path"])}, meta)


def parse_step(spec: PostSpec) -> FaceRestoreStep:
    """``face_restore[:STRENGTH][,model=NAME][,faces=largest][,fidelity=0.5]...``."""
    values = {"strength": spec.value} if spec.value is not None else {}
    return fields_from_spec(FaceRestoreStep, values, spec)  # type: ignore[return-value]


def build_step(p: FaceRestoreStep, stream: Stream) -> PostStep:
    processor, roles = build_processor(p)
    description = roles["face_restore"]
    if stream.kind == "image":
        return PostStep(stream, description, image=lambda img: processor.process(img)[0])
    stage = FaceStage(processor)
    return PostStep(stream, description, stage=stage, stats=stage.describe)


register_post_step("face_restore", build_step, parse=parse_step,
                   summary="Restore faces: face_restore, face_restore:0.6, options model=, faces=, "
                           "fidelity=.")
