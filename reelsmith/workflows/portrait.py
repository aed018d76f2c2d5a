"""Workflow ``portrait``: put a person's face into a reference portrait.

The reference gives the background, pose, outfit and hairstyle, kept exactly outside the face
mask; the face image gives the identity. Two backends:

- ``diffusers``: SDXL inpainting of the masked face region conditioned on the face image
  (IP-Adapter FaceID / FaceID Plus v2 / CLIP image), from local weights only
  (:mod:`reelsmith.ops.portrait_inpaint`); per-step progress, latent previews, cancel at
  the next step.
- ``builtin``: the classical compositor (:mod:`reelsmith.ops.portrait_composite`): the face
  image's face aligned by landmarks, warped, colour and lighting matched, blended inside the
  mask. ``auto`` runs it when the diffusion weights are absent and says why.

Then, optionally, the Faces steps: a swap of the face image's face onto the result and a face
restore (the ``face_restore`` post step), and any ``post`` steps. With ``count`` N it writes
N results (``OUT-1``, ``OUT-2``...; seeds seed, seed+1...; builtin variants differ in feather,
colour and lighting) and ranks them by identity similarity to the face image. All results are
written under temporary names and renamed together at the end: a failed or cancelled run
leaves none.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from reelsmith.engine.context import JobContext
from reelsmith.errors import InputError, ModelError
from reelsmith.media.images import read_image, write_image
from reelsmith.ops.face_mask import save_mask_image
from reelsmith.ops.face_process import pick_faces, to_uint8
from reelsmith.workflows.backends import backend_metadata, describe_of
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.faces_common import output_suffix_for
from reelsmith.workflows.portrait_params import PortraitParams
from reelsmith.workflows.post import Stream, build_post_chain

#: The prompt when the user gives none and no vision model describes the face.
DEFAULT_PROMPT = ("a high quality photo portrait of a person, natural skin texture, "
                  "detailed face, sharp focus, soft light")


@dataclass
class Person:
    """One image and the face chosen in it."""

    image: np.ndarray  # HxWx3 uint8 RGB
    face: Any  # analysis.faces.types.Face
    faces: list[Any]  # every face found in the image

    @property
    def found(self) -> int:
        return len(self.faces)

    @property
    def index(self) -> int:
        """The chosen face's index counted from the left, as ``face_index`` takes it."""
        order = sorted(self.faces, key=lambda f: (f.box[0] + f.box[2]) / 2)
        return next(i for i, f in enumerate(order) if f is self.face)


def find_person(finder: Any, path: Path, what: str, index: int | None = None) -> tuple[Person, np.ndarray]:
    """The chosen face of image ``path`` (``what``: "reference"/"face" for messages), and the
    image as read (alpha kept). InputError naming the image when it has no usable face."""
    image, _ = read_image(path)
    rgb = np.ascontiguousarray(to_uint8(image[..., :3]))
    scan = finder.find(rgb)
    if not scan.faces:
        small = f" ({len(scan.skipped)} face(s) smaller than {finder.min_size} px)" if scan.skipped else ""
        raise InputError(f"The {what} image {path.name} has no usable face{small}.")
    if index is None:
        chosen = max(scan.faces, key=lambda f: f.area)
    else:
        picked = pick_faces(scan.faces, str(index))
        if not picked:
            raise InputError(f"face_index={index}: the {what} image {path.name} has "
                             f"{len(scan.faces)} face(s) (0 = the leftmost).")
        chosen = picked[0]
    return Person(rgb, chosen, list(scan.faces)), image


def staged_path(final: Path) -> Path:
    """Where a result waits until every result of the run is done (same folder and suffix)."""
    return final.with_name(f".{final.stem}.staged-{os.getpid()}{final.suffix}")


def result_paths(output: Path, count: int) -> list[Path]:
    """``OUT`` for one result, ``OUT-1`` ... ``OUT-N`` for several."""
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{k}{output.suffix}") for k in range(1, count + 1)]


def choose_prompt(p: PortraitParams, face: Person) -> tuple[str, str, str]:
    """(prompt, where it came from: user | vision model | default, why when default)."""
    if p.prompt:
        return p.prompt, "user", ""
    from reelsmith.analysis.face_describe import describe_face
    from reelsmith.ops.face_align import align_face

    crop = align_face(face.image, face.face.kps, template="ffhq", size=384).crop
    text, why = describe_face(crop)
    if text:
        return f"a photo portrait of {text}, natural skin texture, sharp focus", "vision model", ""
    return DEFAULT_PROMPT, "default", why


class IdentityJudge:
    """Similarity of a result's face to the face image and to the reference's original face."""

    def __init__(self, embedder: Any, face: Person, reference: Person) -> None:
        from reelsmith.analysis.faces.identity import similarity

        self.embedder = embedder
        self.to_face = embedder.embed(face.image, face.face)
        self.to_ref = embedder.embed(reference.image, reference.face)
        #: How similar the reference's own face already was to the face image.
        self.baseline = round(similarity(self.to_ref, self.to_face), 4)

    def measure(self, result: np.ndarray, ref_face: Any) -> dict[str, float]:
        from reelsmith.analysis.faces.identity import similarity

        emb = self.embedder.embed(result, ref_face)
        return {"to_face": round(similarity(emb, self.to_face), 4),
                "to_reference": round(similarity(emb, self.to_ref), 4)}


@register
class Portrait(Workflow):
    name = "portrait"
    title = "Portrait"
    description = ("Put the face of a person (the face image) into a reference portrait: the "
                   "reference's background, pose, outfit and hair are kept; several ranked "
                   "results with count.")
    inputs = (InputSpec("reference", kinds=("image",),
                        description="The portrait to put the face into (background, pose, outfit)."),
              InputSpec("face", kinds=("image",),
                        description="A photo of the person whose face goes in."))
    Params = PortraitParams

    def output_suffix(self, inputs: Mapping[str, Path], params: BaseModel) -> str:
        return output_suffix_for(Path(inputs["reference"]))

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: BaseModel,
            output: Path) -> WorkflowResult:
        p: PortraitParams = self.parse_params(params)  # type: ignore[assignment]
        started = time.monotonic()
        ctx.stage("faces", 0.0, 0.05)
        plan = _Plan.build(p, Path(inputs["reference"]), Path(inputs["face"]))
        ctx.check()
        finals = result_paths(Path(output), p.count)
        staged = [staged_path(f) for f in finals]
        seed = p.seed if p.seed is not None else random.SystemRandom().randrange(2**31)
        results: list[dict[str, Any]] = []
        try:
            for k in range(p.count):
                ctx.stage(f"result {k + 1}/{p.count}", _edge(k, p.count), _edge(k + 1, p.count))
                image, info = plan.generate(ctx, k, seed + k)
                ctx.check()
                image = plan.finish(image)
                out = image if plan.alpha is None else np.dstack([image, plan.alpha])
                write_image(staged[k], out)
                results.append({"index": k + 1, "seed": info.pop("seed", None), **info,
                                **plan.identity(image)})
            ctx.stage("writing", _edge(p.count, p.count), 1.0)
            mask_path = None
            if p.save_mask:
                mask_final = Path(output).with_name(Path(output).stem + "_mask.png")
                mask_path = write_image(staged_path(mask_final), save_mask_image(plan.mask))
            ctx.check()
        except BaseException:
            for s in [*staged, staged_path(Path(output).with_name(Path(output).stem + "_mask.png"))]:
                s.unlink(missing_ok=True)
            raise
        for s, f in zip(staged, finals, strict=True):
            os.replace(s, f)
        ranked = sorted(results, key=lambda r: -r["identity"]["to_face"] if "identity" in r else r["index"])
        for rank, r in enumerate(ranked, 1):
            r["rank"] = rank
            r["path"] = str(finals[r["index"] - 1])
        outputs: dict[str, Path] = {}
        for r in ranked:  # best first: the first output is the best result
            outputs["image" if p.count == 1 else f"image_{r['index']}"] = finals[r["index"] - 1]
        if mask_path is not None:
            mask_final = Path(output).with_name(Path(output).stem + "_mask.png")
            os.replace(mask_path, mask_final)
            outputs["mask"] = mask_final
        ctx.progress(1.0, force=True)
        meta = plan.metadata() | {
            "workflow": self.name, "count": p.count, "seed": seed, "results": ranked,
            "output": {"path": str(finals[ranked[0]["index"] - 1]),
                       "width": plan.reference.image.shape[1], "height": plan.reference.image.shape[0]},
            "seconds": round(time.monotonic() - started, 3)}
        return WorkflowResult(outputs, meta)


def _edge(k: int, count: int) -> float:
    """Where result ``k`` (0-based) starts on the job's progress: 5% for the faces, 2% for
    writing, the rest shared by the results."""
    return round(0.05 + 0.93 * k / count, 6)


class _Plan:
    """Everything one run decides before generating: faces, mask, backend, prompt, steps."""

    def __init__(self, p: PortraitParams) -> None:
        self.p = p
        self.notes: list[str] = []

    @classmethod
    def build(cls, p: PortraitParams, ref_path: Path, face_path: Path) -> _Plan:
        from reelsmith.analysis.faces.find import FaceFinder
        from reelsmith.ops.portrait_composite import check_face_size, composite_variants, portrait_mask

        self = cls(p)
        self.finder = FaceFinder(detector=p.detector, landmarks=True, min_size=24)
        self.reference, ref_image = find_person(self.finder, ref_path, "reference", p.face_index)
        self.alpha = ref_image[..., 3] if ref_image.shape[2] == 4 and ref_image.dtype == np.uint8 else None
        self.face, _ = find_person(self.finder, face_path, "face")
        check_face_size(self.face.face, "face")
        self.parser = _parser(p.mask_model)
        self.mask = portrait_mask(self.reference.image, self.reference.face, p.mask_options(),
                                  parser=self.parser)
        self.styles = composite_variants(p.count)
        self._choose_backend()
        self._judge()
        self._post_steps()
        return self

    # -- backend ---------------------------------------------------------------------
    def _choose_backend(self) -> None:
        from reelsmith.ops.portrait_inpaint import select_portrait_inpainter

        p = self.p
        self.inpainter, self.backend_reason = select_portrait_inpainter(p.backend, p.mode)
        self.embedding = None
        if self.inpainter is not None and "face_embedding" in self.inpainter.needs:
            from reelsmith.analysis.faces.identity import select_embedder

            try:
                arcface = select_embedder("arcface")
            except ModelError:
                if p.mode != "auto":
                    raise ModelError(f"mode={p.mode} needs an ArcFace identity model (e.g. "
                                     "w600k_r50.onnx in the models directory); none is installed, "
                                     "or choose mode=standard or simple_inpaint.") from None
                self.notes.append("no ArcFace identity model is installed, so the face identity "
                                  "conditioning (FaceID) could not run")
                self.inpainter, self.backend_reason = _fallback_mode(p.backend)
            else:
                self.embedding = arcface.embed(self.face.image, self.face.face)
        if self.inpainter is not None:
            self.prompt, self.prompt_source, self.prompt_note = choose_prompt(p, self.face)
        else:
            self.prompt, self.prompt_source, self.prompt_note = "", "not used (builtin)", ""

    def _judge(self) -> None:
        from reelsmith.analysis.faces.identity import select_embedder

        spec = self.p.identity_model.strip().lower()
        embedder = None if spec == "none" else select_embedder(spec)
        self.judge = IdentityJudge(embedder, self.face, self.reference) if embedder is not None else None

    def _post_steps(self) -> None:
        p = self.p
        self.swap = None
        if p.face_swap:
            self.swap = _swap_processor(p, self.finder, self.face, self.parser)
        steps = ([f"face_restore:{p.enhance_strength:g},faces={p.faces_choice},model={p.enhance_model}"]
                 if p.face_enhance else []) + list(p.post)
        h, w = self.reference.image.shape[:2]
        self.post = build_post_chain(steps, Stream("image", w, h))

    # -- per result ------------------------------------------------------------------
    def generate(self, ctx: JobContext, k: int, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        from reelsmith.ops.portrait_composite import composite_portrait

        ref, face = self.reference, self.face
        style = self.styles[k]
        if self.inpainter is None:
            out = composite_portrait(ref.image, ref.face, face.image, face.face, self.mask, style)
            ctx.progress(1.0, force=True)
            return out, {"seed": None, "style": style.name}
        from reelsmith.ops.portrait_inpaint import InpaintRequest

        p = self.p
        base, denoise = ref.image, p.denoise
        if p.pre_paste:
            base = composite_portrait(ref.image, ref.face, face.image, face.face, self.mask, style)
            denoise = p.pre_paste_denoise
        req = InpaintRequest(
            prompt=self.prompt, negative_prompt=p.negative_prompt, seed=seed, steps=p.steps,
            guidance_scale=p.guidance_scale, denoise=denoise, stop_at=p.stop_at,
            face_strength=p.face_strength, face_embedding=self.embedding,
            face_image=self._aligned(face), reference_face=self._aligned(ref), size=p.size)
        return self.inpainter.inpaint(ctx, base, self.mask, req), {"seed": seed}

    def _aligned(self, person: Person) -> np.ndarray:
        from reelsmith.ops.face_align import align_face

        return align_face(person.image, person.face.kps, template="ffhq", size=512).crop

    def finish(self, image: np.ndarray) -> np.ndarray:
        """The Faces steps and the post chain on one result."""
        if self.swap is not None:
            image = self.swap.process(image)[0]
        return self.post.apply_image(image)

    def identity(self, image: np.ndarray) -> dict[str, Any]:
        if self.judge is None:
            return {}
        return {"identity": self.judge.measure(image, self.reference.face)}

    # -- report ----------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        p = self.p
        gen = self.inpainter if self.inpainter is not None else _BuiltinDescription(self.styles)
        roles: dict[str, dict[str, Any]] = {"portrait": describe_of(gen),
                                            "face_detect": self.finder.describe(),
                                            "face_mask": {"name": "face-parsing" if self.parser
                                                          else "landmarks", "backend": "opencv"}
                                            | ({"model": describe_of(self.parser).get("name")}
                                               if self.parser else {})}
        if self.swap is not None:
            roles["face_swap"] = describe_of(self.swap.editor)
        if self.judge is not None:
            roles["identity"] = describe_of(self.judge.embedder)
            meta_identity = {"identity_baseline": self.judge.baseline}
        else:
            meta_identity = {}
        meta: dict[str, Any] = {
            "mode": getattr(self.inpainter, "mode", None),
            "prompt": self.prompt or None, "prompt_source": self.prompt_source,
            "reference_face": {"index": self.reference.index, "faces_found": self.reference.found,
                               "box": [round(float(v), 1) for v in self.reference.face.box]},
            "face_image_faces": self.face.found,
            "input": {"width": self.reference.image.shape[1], "height": self.reference.image.shape[0],
                      "kind": "image"},
            **meta_identity, **self.post.metadata(), **backend_metadata({**roles, **self.post.roles})}
        if self.inpainter is None:
            meta["backend_reason"] = self.backend_reason
        if self.prompt_note:
            meta["prompt_note"] = self.prompt_note
        if self.notes:
            meta["notes"] = self.notes
        if p.count > 1 and self.inpainter is None:
            meta["variants_note"] = ("the builtin compositor varies the blend (mask feather, colour "
                                     "and lighting transfer) between results")
        return meta


class _BuiltinDescription:
    def __init__(self, styles: list[Any]) -> None:
        self.styles = styles

    def describe(self) -> dict[str, Any]:
        return {"name": "builtin-portrait-composite", "backend": "opencv",
                "method": "landmark warp + Lab colour and lighting match on the skin ring + "
                          "seamless blend inside the face mask",
                "styles": [s.name for s in self.styles]}


def _parser(spec: str) -> Any:
    s = (spec or "auto").strip()
    if s.lower() == "landmarks":
        return None
    from reelsmith.analysis.faces.parsing import select_parser

    return select_parser(s)


def _fallback_mode(backend: str) -> tuple[Any, str]:
    """The best diffusion mode that needs no identity embedding."""
    from reelsmith.ops.portrait_inpaint import select_portrait_inpainter

    for mode in ("standard", "simple_inpaint"):
        try:
            inpainter, why = select_portrait_inpainter(backend, mode)
        except ModelError:
            continue
        if inpainter is not None:
            return inpainter, why
    return select_portrait_inpainter("builtin", "auto")


def _swap_processor(p: PortraitParams, finder: Any, face: Person, parser: Any) -> Any:
    """The Faces swap of the face image's face onto the chosen reference face."""
    from reelsmith.analysis.faces.identity import select_embedder
    from reelsmith.models.face_swappers import select_face_swapper
    from reelsmith.ops.face_editors import BuiltinSwap, LandmarkMasker, ModelSwap, ParsingMasker
    from reelsmith.ops.face_mask import MaskOptions
    from reelsmith.ops.face_process import FaceProcessor

    swapper = select_face_swapper(p.swap_model)
    if swapper is not None:
        embedder = select_embedder(swapper.embedding)
        if embedder is None:
            raise ModelError(f"The swap model {describe_of(swapper).get('name')!r} needs an "
                             f"{swapper.embedding} identity model; none is installed.")
        editor: Any = ModelSwap(swapper, embedder.embed(face.image, face.face), p.swap_refine)
    else:
        editor = BuiltinSwap(face.image, face.face, p.swap_refine)
    options = MaskOptions(include_hair=False, include_neck=False)
    masker = ParsingMasker(parser, options) if parser is not None else LandmarkMasker(options)
    return FaceProcessor(finder, editor, masker, faces=p.faces_choice)
