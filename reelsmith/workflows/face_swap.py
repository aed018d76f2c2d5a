"""Workflow ``face_swap``: put the face of one person (one or more source photos) onto the
faces of a target photo or video.

With a swap model (inswapper-style: aligned target crop + the source's ArcFace identity
embedding, averaged over the source photos; optional pixel boost to 256/512 px) when one is
installed or named; otherwise the built-in swap, which warps the source face onto the
target's landmarks, matches its colour and blends it seamlessly. When an identity embedder
is installed the result reports how close each swapped face is to the source and to the
original target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from reelsmith.engine.context import JobContext
from reelsmith.errors import InputError, ModelError
from reelsmith.media.frame import Frame
from reelsmith.media.images import read_image
from reelsmith.media.probe import probe
from reelsmith.ops.face_editors import BuiltinSwap, ModelSwap
from reelsmith.ops.face_process import FaceProcessor, to_uint8
from reelsmith.workflows.backends import describe_of
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.faces_common import (
    FaceFields,
    build_finder,
    build_masker,
    output_suffix_for,
    run_image,
    run_video,
)
from reelsmith.workflows.params import EncodeParams
from reelsmith.workflows.post import PostFields
from reelsmith.workflows.schema import param

SWAP = "Face swap"
_IDENTITY_EVERY_S = 1.0  # video: identity is measured on about one frame per second


class FaceSwapFields(BaseModel):
    model: str = param("auto", group=SWAP, order=10, examples=["auto", "builtin"],
                       description="auto | builtin | a catalog model name | a path to weights.")
    blend: float = param(0.0, ge=0, le=1, group=SWAP, order=11,
                         description="How much of the target's own face shows through (0: none).")
    pixel_boost: int | None = param(
        None, ge=64, le=1024, group=SWAP, order=12, advanced=True, unit="px", examples=[256, 512],
        description="Swap-model output size, 1, 2 or 4 times the model's (a 128 px model runs on "
                    "sub-grids for 256 or 512 px).")
    identity_model: str = param("auto", group=SWAP, order=13, advanced=True,
                                examples=["auto", "arcface", "dlib", "none"],
                                description="Identity embedder used to report similarity "
                                            "(none: do not measure).")


class FaceSwapParams(FaceSwapFields, FaceFields, PostFields, EncodeParams):
    include_hair: bool = param(False, group="Face mask", order=51,
                               description="Include the hair in the mask (off for swaps: the "
                                           "target keeps its hair).")


def _source_faces(finder: Any, sources: Sequence[Path]) -> list[tuple[np.ndarray, Any, Path]]:
    """(image, largest face, path) for every source photo; InputError naming one without a face."""
    found = []
    for path in sources:
        image, _ = read_image(path)
        rgb = np.ascontiguousarray(to_uint8(image[..., :3]))
        scan = finder.find(rgb)
        if not scan.faces:
            raise InputError(f"The source image {Path(path).name} has no usable face"
                             + (" (the faces in it are too small)." if scan.skipped else "."))
        found.append((rgb, max(scan.faces, key=lambda f: f.area), Path(path)))
    return found


class IdentityMeter:
    """Identity similarity of swapped faces to the source and to the original target."""

    def __init__(self, embedder: Any, source_embedding: np.ndarray) -> None:
        self.embedder = embedder
        self.source = source_embedding
        self.to_source: list[float] = []
        self.to_target: list[float] = []

    def measure(self, before: np.ndarray, after: np.ndarray, faces: Sequence[Any]) -> None:
        from reelsmith.analysis.faces.identity import similarity

        for face in faces:
            out = self.embedder.embed(after, face)
            self.to_source.append(similarity(out, self.source))
            self.to_target.append(similarity(out, self.embedder.embed(before, face)))

    def report(self) -> dict[str, Any]:
        if not self.to_source:
            return {}
        return {"identity": {
            "embedder": describe_of(self.embedder).get("name"),
            "to_source": round(float(np.mean(self.to_source)), 4),
            "to_target": round(float(np.mean(self.to_target)), 4),
            "faces_measured": len(self.to_source)}}


@register
class FaceSwap(Workflow):
    name = "face_swap"
    title = "Face swap"
    description = ("Put the face from one or more source photos of a person onto the faces of a "
                   "target photo or video; audio kept.")
    inputs = (InputSpec("target", kinds=("video", "image"),
                        description="The photo or video whose faces are replaced."),
              InputSpec("source", kinds=("image",), many=True,
                        description="One or more photos of the person to put in (embeddings "
                                    "of several photos are averaged)."))
    Params = FaceSwapParams

    def output_suffix(self, inputs: Mapping[str, Path], params: BaseModel) -> str:
        return output_suffix_for(Path(inputs["target"]))

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: BaseModel,
            output: Path) -> WorkflowResult:
        from reelsmith.analysis.faces.identity import mean_embedding, select_embedder
        from reelsmith.models.face_swappers import select_face_swapper

        p: FaceSwapParams = self.parse_params(params)  # type: ignore[assignment]
        target = Path(inputs["target"])
        raw = inputs["source"]
        sources = [Path(s) for s in (raw if isinstance(raw, list | tuple) else [raw])]
        info = probe(target)
        finder = build_finder(p)
        ctx.stage("sources", 0.0, 0.02)
        src_faces = _source_faces(finder, sources)
        swapper = select_face_swapper(p.model, pixel_boost=p.pixel_boost)
        judge_spec = p.identity_model.strip().lower()
        judge = None if judge_spec == "none" else select_embedder(judge_spec)
        if swapper is not None:
            embedder = select_embedder(swapper.embedding)
            if embedder is None:
                raise ModelError(f"The swap model {describe_of(swapper).get('name')!r} needs an "
                                 f"{swapper.embedding} identity model; none is installed "
                                 "(see `reelsmith models list`).")
            emb = mean_embedding([embedder.embed(img, face) for img, face, _ in src_faces])
            editor: Any = ModelSwap(swapper, emb, p.blend)
        else:
            img, face, _ = max(src_faces, key=lambda s: s[1].area * s[1].score)
            editor = BuiltinSwap(img, face, p.blend)
        meter = None
        if judge is not None:
            meter = IdentityMeter(judge, mean_embedding([judge.embed(i, f) for i, f, _ in src_faces]))
        masker = build_masker(p)
        processor = FaceProcessor(finder, editor, masker, faces=p.faces)
        roles = {"face_detect": finder.describe(), "face_swap": describe_of(editor),
                 "face_mask": describe_of(masker)}
        if judge is not None:
            roles["identity"] = describe_of(judge)
        source_meta = {"sources": [s.name for _, _, s in src_faces]}
        if swapper is None and len(src_faces) > 1:
            source_meta["sources_note"] = ("the built-in swap uses one source photo: the one with "
                                           "the largest, surest face")
        if info.kind == "image":
            def identity(before: np.ndarray, after: np.ndarray) -> dict[str, Any]:
                if meter is None:
                    return {}
                meter.measure(before, after, processor.last_faces)
                return meter.report()

            outputs, meta = run_image(ctx, target, Path(output), processor, p, workflow=self.name,
                                      roles=roles, extra=identity)
            return WorkflowResult(outputs, meta | source_meta)

        fps = float(info.fps or 25)
        every = max(1, round(fps * _IDENTITY_EVERY_S))

        def sample(frame: Frame, result: np.ndarray) -> None:
            if meter is not None and frame.index % every == 0 and processor.last_faces:
                meter.measure(to_uint8(frame.image), to_uint8(result), processor.last_faces)

        meta = run_video(ctx, target, Path(output), info, processor, p, workflow=self.name,
                         roles=roles, on_frame=sample,
                         extra=(meter.report if meter is not None else None))
        return WorkflowResult({"video": Path(meta["output"]["path"])}, meta | source_meta)
