"""Workflow ``restore_photo``: an old photo in, a repaired one out, in one pass.

The order is the one a retoucher would follow: JPEG deblocking (so the 8x8 grid is not taken
for defects), scratch and dust removal, grain-aware denoise -- all :mod:`reelsmith.ops` on the
pixels -- then the registered post steps, not copies of them: ``face_restore`` (``faces``),
``colorize`` (``colorize``; the step another module registers), ``upscale:N`` (``upscale``),
then any further ``post`` steps the caller names. Every step reports what it did in the
metadata: defects found (scratches, specks, area), noise before/after, blockiness
before/after and each post step's own metadata.

Pictures: EXIF orientation is applied when read (:func:`~reelsmith.media.images.read_image`);
16-bit PNG and TIFF scans stay 16-bit through the restoration ops. The post steps work on
8-bit pixels, so with any post step the output is 8-bit, and the metadata says so. Alpha is
kept (resized with the picture when a step changes its size).

Huge scans: the input limits (bytes, pixels) apply when the input is resolved; detection works
in fixed-size tiles, so its working memory does not grow with the scan, and the picture itself
is held once or twice (input and result).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from reelsmith.engine.context import JobContext
from reelsmith.errors import InputError
from reelsmith.media.images import read_image, write_image
from reelsmith.ops.photo_denoise import deblock, denoise_photo
from reelsmith.ops.scratches import detect_defects, repair_defects
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.post import PostFields, Stream, build_post_chain
from reelsmith.workflows.schema import param

DEFECTS = "Scratches and dust"
NOISE = "Noise and blocks"
STEPS = "Faces, colour, size"

#: Output formats that keep the input's own (others become PNG).
IMAGE_OUT = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"}


class RestorePhotoParams(PostFields):
    model_config = ConfigDict(extra="forbid")

    # Off unless asked: on a clean, detailed photo the detector still takes 1-7% of the
    # picture for defects (benchmarks/restore_photo.py), and repairing those costs detail.
    scratches: bool = param(False, group=DEFECTS, order=10,
                            description="Find and repair scratches (long thin bright or dark lines).")
    dust: bool = param(False, group=DEFECTS, order=11,
                       description="Find and repair dust and specks (small bright or dark spots).")
    sensitivity: float = param(0.5, ge=0, le=1, group=DEFECTS, order=12,
                               description="Defect detection sensitivity (0-1): higher finds fainter "
                                           "defects and risks taking real fine detail for them.")
    save_mask: bool = param(False, group=DEFECTS, order=13,
                            description="Also write the defect mask (scratches white, dust grey) "
                                        "next to the output as <name>_mask.png.")
    denoise: bool = param(True, group=NOISE, order=20,
                          description="Remove noise in proportion to the measured level (does "
                                      "nothing on a clean picture).")
    denoise_strength: float = param(1.0, ge=0, le=3, group=NOISE, order=21, advanced=True,
                                    description="Scale of the denoise filter (1: matched to the "
                                                "measured noise).")
    keep_grain: float = param(0.25, ge=0, le=1, group=NOISE, order=22, advanced=True,
                              description="Share of the film grain kept (0 removes what it can).")
    deblock: Literal["auto", "on", "off"] = param(
        "auto", group=NOISE, order=23,
        description="Smooth JPEG 8x8 blocks: auto (only when measured), on, off.")
    faces: bool = param(False, group=STEPS, order=30,
                        description="Restore the faces (the face_restore post step).")
    face_model: str = param("auto", group=STEPS, order=31, advanced=True,
                            examples=["auto", "builtin"],
                            description="Face restoration model: auto | builtin | a name | a path.")
    colorize: bool = param(False, group=STEPS, order=32,
                           description="Colourise the photo (the colorize post step); give a "
                                       "reference photo or hints as inputs to steer it.")
    colorize_model: str = param("auto", group=STEPS, order=33, advanced=True,
                                examples=["auto", "builtin"],
                                description="Colorization model: auto | builtin | a name | a path.")
    colorize_strength: float = param(1.0, ge=0, le=1, group=STEPS, order=34, advanced=True,
                                     description="How much of the predicted colour is applied (0-1).")
    upscale: int = param(1, ge=1, le=4, unit="x", group=STEPS, order=35,
                         description="Enlarge the result 2x or 4x (the upscale post step); 1 "
                                     "keeps the size.")
    upscale_model: str = param("auto", group=STEPS, order=36, advanced=True,
                               examples=["auto", "builtin"],
                               description="Upscale model: auto | builtin | a name | a path.")


    @field_validator("upscale")
    @classmethod
    def _scale(cls, v: int) -> int:
        if v not in (1, 2, 4):
            raise ValueError("upscale must be 1, 2 or 4")
        return v


def _colorize_step(p: RestorePhotoParams, inputs: Mapping[str, Path]) -> str:
    opts = [f"strength={p.colorize_strength:g}"]
    if p.colorize_model != "auto":
        opts.append(f"model={p.colorize_model}")
    for name in ("reference", "hints"):
        if inputs.get(name):
            path = str(inputs[name])
            if "," in path:
                raise InputError(f"The {name} path {path!r} holds a comma; rename the file.")
            opts.append(f"{name}={path}")
    return ",".join(["colorize", *opts])


def chain_of(p: RestorePhotoParams, inputs: Mapping[str, Path]) -> list[str]:
    """The post step entries this run chains, in order."""
    steps: list[str] = []
    if p.faces:
        steps.append("face_restore" + (f",model={p.face_model}" if p.face_model != "auto" else ""))
    if p.colorize:
        steps.append(_colorize_step(p, inputs))
    if p.upscale > 1:
        steps.append(f"upscale:{p.upscale}" + (f",model={p.upscale_model}"
                                               if p.upscale_model != "auto" else ""))
    if (inputs.get("reference") or inputs.get("hints")) and not p.colorize:
        raise InputError("A reference photo or hints were given without colorize: add "
                         "--colorize, or leave them out.")
    return steps + list(p.post)


def _to8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _restore_alpha(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    if alpha is None:
        return rgb
    if alpha.shape != rgb.shape[:2]:
        alpha = cv2.resize(alpha, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    if alpha.dtype != rgb.dtype:
        alpha = _to8(alpha[..., None])[..., 0]
    return np.dstack([rgb, alpha])


@register
class RestorePhoto(Workflow):
    name = "restore_photo"
    title = "Restore photo"
    description = ("Repair an old photo in one pass: scratches and dust found and inpainted, "
                   "JPEG blocks and noise removed (grain kept), then faces restored, colourised "
                   "and enlarged as chained steps; 16-bit scans stay 16-bit.")
    inputs = (
        InputSpec("image", kinds=("image",), description="The photo or scan to restore."),
        InputSpec("reference", kinds=("image",), required=False,
                  description="With colorize: a colour photo of a similar scene to take colours from."),
        InputSpec("hints", kinds=("json", "image"), required=False,
                  description="With colorize: colour hints, as JSON points/strokes or an image "
                              "with colour scribbles on the places to colour."),
    )
    Params = RestorePhotoParams

    def output_suffix(self, inputs: Mapping[str, Path], params: BaseModel) -> str:
        suffix = Path(inputs["image"]).suffix.lower()
        return suffix if suffix in IMAGE_OUT else ".png"

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: BaseModel,
            output: Path) -> WorkflowResult:
        from reelsmith.workflows.backends import backend_metadata

        p: RestorePhotoParams = self.parse_params(params)  # type: ignore[assignment]
        started = time.monotonic()
        steps = chain_of(p, inputs)
        ctx.stage(self.name, 0.0, 1.0)
        image, info = read_image(Path(inputs["image"]))
        post = build_post_chain(steps, Stream("image", image.shape[1], image.shape[0]))
        rgb = np.ascontiguousarray(image[..., :3])
        alpha = image[..., 3] if image.shape[2] == 4 else None
        ran: list[str] = []
        meta: dict[str, Any] = {}
        roles: dict[str, dict[str, Any]] = {}

        if p.deblock != "off":
            rgb, b0, b1 = deblock(rgb, force=p.deblock == "on")
            meta["deblock"] = {"blockiness_before": b0, "blockiness_after": b1,
                               "applied": b1 != b0}
            if b1 != b0:
                ran.append("deblock")
                roles["deblock"] = {"name": "grid-deblock"}
        ctx.progress(0.15, force=True)
        ctx.check()
        mask = None
        if p.scratches or p.dust:
            mask = detect_defects(rgb, scratches=p.scratches, dust=p.dust, sensitivity=p.sensitivity)
            ctx.progress(0.45, force=True)
            ctx.check()
            rgb = repair_defects(rgb, mask)
            meta["defects"] = mask.describe()
            ran.append("defects")
            roles["defects"] = {"name": "morphological-detect+telea"}
        ctx.progress(0.6, force=True)
        ctx.check()
        if p.denoise:
            rgb, rep = denoise_photo(rgb, strength=p.denoise_strength, keep_grain=p.keep_grain)
            meta["denoise"] = {"noise_before": rep.noise_before, "noise_after": rep.noise_after,
                               "applied": rep.applied}
            if rep.applied:
                ran.append("denoise")
                roles["denoise"] = {"name": "nl-means-lab"}
        ctx.progress(0.75, force=True)
        ctx.check()
        bit_depth = 16 if rgb.dtype == np.uint16 else 8
        if post.built:
            rgb = post.apply_image(np.ascontiguousarray(_to8(rgb)))
            ran += [b.text for b in post.built]
            if bit_depth == 16:
                meta["message"] = ("The post steps work on 8-bit pixels: the 16-bit input is "
                                   "written as 8-bit. Run without them to keep 16 bits.")
                bit_depth = 8
        ctx.check()
        out = _restore_alpha(rgb, alpha)
        final = write_image(output, out, icc_profile=info.icc_profile)
        outputs: dict[str, Path] = {"image": final}
        if p.save_mask and mask is not None:
            outputs["mask"] = write_image(final.with_name(final.stem + "_mask.png"), mask.image())
        if not roles and not post.built:
            roles["restore"] = {"name": "none"}  # nothing was needed: the picture passes through
            meta.setdefault("message", "Nothing to repair was found: the picture is unchanged.")
        meta.update({
            "workflow": self.name, "steps": ran,
            "input": {"width": info.width, "height": info.height, "kind": "image",
                      "bit_depth": info.bit_depth, "exif_orientation": info.exif_orientation},
            "output": {"width": out.shape[1], "height": out.shape[0], "path": str(final),
                       "bit_depth": bit_depth},
            "seconds": round(time.monotonic() - started, 3),
            **post.metadata(),
            **backend_metadata({**roles, **post.roles}),
        })
        ctx.progress(1.0, force=True)
        return WorkflowResult(outputs, meta)
