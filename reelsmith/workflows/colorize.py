"""Workflow ``colorize``: give a black-and-white photo or film clip plausible colour; also the
post step ``colorize`` any image- or video-producing workflow can end with (``restore_photo``
chains it: ``colorize,reference=/x/ref.jpg``).

Where the colour comes from (:class:`ColorSource`), first match wins:

- a **colorization model** (DDColor, DeOldify-class ONNX: :mod:`reelsmith.models.colorizers`)
  when one is named or, for ``model=auto``, installed -- unless a reference or a tint is given;
- a **reference** photo of a similar scene (:mod:`reelsmith.ops.colorize_reference`);
- **hints** only: points, strokes or scribbles (:mod:`reelsmith.ops.colorize_hints`).

Hints also steer a model or a reference: they override its colour locally. A ``tint`` is an
explicit monochrome look (:mod:`reelsmith.ops.tint`), offered as such. With none of these the
run is refused with a sentence saying what to give -- never a silent fake colourisation -- and a
colour input is refused unless ``force`` (it is then recoloured from its luminance).

Colour is always predicted small and put on the full-resolution luminance. Video colours
keyframes and carries their chroma along optical flow (:mod:`reelsmith.ops.colorize_video`); the
measured chroma flicker is in the metadata. Hints on a video are positions in the frame: they
colour the first shot's first frame (and, with a model or reference, every keyframe); later
shots take their colours from that first coloured frame.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from reelsmith.engine.context import JobContext
from reelsmith.errors import InputError
from reelsmith.media.images import read_image, write_image
from reelsmith.media.probe import MediaInfo, probe
from reelsmith.ops.chroma import apply_chroma, colourfulness, residual_chroma
from reelsmith.ops.colorize_hints import Hints, colorize_with_hints, hint_chroma, load_hints
from reelsmith.ops.colorize_reference import check_reference, reference_chroma
from reelsmith.ops.colorize_video import ColorizeStage
from reelsmith.ops.tint import apply_tint, tint_chroma
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.faces_common import output_suffix_for
from reelsmith.workflows.params import EncodeParams
from reelsmith.workflows.post import (
    PostFields,
    PostSpec,
    PostStep,
    Stream,
    build_post_chain,
    fields_from_spec,
    register_post_step,
)
from reelsmith.workflows.schema import param

GROUP = "Colorize"
Tint = Literal["none", "sepia", "cyanotype", "selenium", "warm", "cool"]


class ColorizeFields(BaseModel):
    model: str = param("auto", group=GROUP, order=10, examples=["auto", "builtin"],
                       description="auto (an installed colorization model, else the built-in "
                                   "hints/reference modes) | builtin | a catalog model name | "
                                   "a path to an ONNX colorizer.")
    strength: float = param(1.0, ge=0, le=2, group=GROUP, order=11,
                            description="Colour saturation: 0 keeps black and white, 1 the "
                                        "predicted colour, above 1 more vivid.")
    render_size: int = param(512, ge=64, le=2048, unit="px", group=GROUP, order=12,
                             description="Side of the square a model with a free input size "
                                         "predicts colour at (models with a fixed size use "
                                         "theirs); the colour is then put on the full-"
                                         "resolution luminance.")
    tint: Tint = param("none", group=GROUP, order=13,
                       description="An explicit monochrome look instead of colour (sepia, "
                                   "cyanotype, selenium, warm, cool); not a colourisation.")
    force: bool = param(False, group=GROUP, order=14,
                        description="Recolour an input that already has colour (from its "
                                    "luminance); without it a colour input is refused.")
    keyframe_every: float = param(2.0, ge=0, le=600, unit="s", group=GROUP, order=15,
                                  advanced=True,
                                  description="Video: seconds between keyframes a model or "
                                              "reference colours within a shot (0: at scene "
                                              "cuts only); the frames between take colour "
                                              "carried along optical flow.")


class ColorizeParams(ColorizeFields, PostFields, EncodeParams):
    pass


class ColorizeStep(ColorizeFields):
    """The options of the ``colorize`` post step: the fields plus file paths."""

    reference: str | None = param(None, description="A colour photo of a similar scene.")
    hints: str | None = param(None, description="A hints .json file or a scribbled image.")


def check_monochrome(rgb: np.ndarray, force: bool) -> None:
    """InputError for a colour picture unless ``force``."""
    if force:
        return
    residual = residual_chroma(rgb)
    if residual >= 3.0:
        raise InputError(f"The input already has colour (colourfulness "
                         f"{colourfulness(rgb):.0f}, chroma not explained by tone "
                         f"{residual:.1f}); colorize is for black-and-white pictures. Use force "
                         "(--force) to recolour it from its luminance.")


class ColorSource:
    """Where colour comes from for one run (see the module doc); ``image`` colours a picture,
    ``key_chroma`` a video keyframe."""

    def __init__(self, p: ColorizeFields, *, hints: Path | None, reference: Path | None) -> None:
        from reelsmith.models.colorizers import select_colorizer
        from reelsmith.models.select import BUILTIN_SPECS

        spec = (p.model or "auto").strip()
        named = spec.lower() not in (*BUILTIN_SPECS, "auto")
        self.tint = None if p.tint == "none" else p.tint
        if self.tint and (hints or reference or named):
            raise InputError(f"The tint {self.tint!r} is a monochrome look; it cannot be combined "
                             "with hints, a reference or a model. Drop one of them.")
        if reference and named:
            raise InputError("Give either a colorization model or a reference photo, not both.")
        self.p = p
        self.hints_path = hints
        self.reference: np.ndarray | None = None
        if reference is not None:
            ref, _ = read_image(reference)
            self.reference = np.ascontiguousarray(ref[..., :3])
            check_reference(self.reference)
        self.colorizer = None
        if not self.tint and self.reference is None:
            self.colorizer = select_colorizer(spec, render_size=p.render_size)
        if not (self.tint or self.colorizer or self.reference is not None or hints):
            raise InputError(
                "Nothing to take colour from: no colorization model is installed"
                + ("" if spec.lower() == "auto" else " or named")
                + " and neither hints nor a reference were given. Give hints (a .json of "
                "points/strokes or the photo with colour scribbles), a reference (a colour "
                "photo of a similar scene), a colorizer model (`reelsmith models list`), or "
                "choose an explicit look with tint (e.g. sepia).")
        self._hints: Hints | None = None
        self._first_key: np.ndarray | None = None

    @property
    def mode(self) -> str:
        if self.tint:
            return f"tint:{self.tint}"
        base = "model" if self.colorizer else "reference" if self.reference is not None else ""
        if self.hints_path:
            return f"{base}+hints" if base else "hints"
        return base

    def describe(self) -> dict[str, Any]:
        if self.colorizer is not None:
            d = self.colorizer.describe()
        else:
            method = {"hints": "colorization by optimisation (Levin et al. 2004) from hints",
                      "reference": "luminance- and texture-matched colour transfer",
                      "reference+hints": "colour transfer steered by hints"}
            d = {"backend": "opencv", "name": f"builtin-{self.mode.replace(':', '-').replace('+', '-')}",
                 "method": method.get(self.mode, "monochrome toner look")}
        d["mode"] = self.mode
        if self._hints is not None:
            d.update(self._hints.describe())
        return d

    def hints_for(self, rgb: np.ndarray) -> Hints | None:
        if self.hints_path is None:
            return None
        if self._hints is None:
            self._hints = load_hints(self.hints_path, rgb)
        return self._hints

    def _prior(self, rgb: np.ndarray) -> np.ndarray | None:
        if self.colorizer is not None:
            return self.colorizer.colorize(rgb)
        if self.reference is not None:
            return reference_chroma(rgb, self.reference)
        return None

    def image(self, rgb: np.ndarray, strength: float) -> np.ndarray:
        """A whole picture coloured (same size, dtype and luminance)."""
        if self.tint:
            return apply_tint(rgb, self.tint, strength=strength)
        prior = self._prior(rgb)
        hints = self.hints_for(rgb)
        if hints is not None:
            return colorize_with_hints(rgb, hints, prior=prior, strength=strength)
        assert prior is not None
        return apply_chroma(rgb, prior, strength=strength)

    @property
    def periodic(self) -> bool:
        """True when every keyframe can be coloured afresh (model, reference, tint)."""
        return bool(self.tint or self.colorizer or self.reference is not None)

    def key_chroma(self, rgb: np.ndarray, index: int) -> np.ndarray:
        """a*/b* (small) for a video keyframe."""
        if index == 0:
            check_monochrome(rgb, self.p.force)
        if self.tint:
            from reelsmith.ops.chroma import luminance

            return tint_chroma(luminance(rgb), self.tint)
        prior = self._prior(rgb)
        hints = self.hints_for(rgb)
        if prior is None and self._first_key is not None:  # hints only, a later shot
            return reference_chroma(rgb, self._first_key)
        ab = prior if hints is None else hint_chroma(rgb, hints, prior=prior)
        if self._first_key is None and prior is None:
            self._first_key = apply_chroma(rgb, ab)
        return ab


def _keyframe_frames(p: ColorizeFields, source: ColorSource, fps: Fraction | None) -> int | None:
    if source.tint:
        return 1
    if not source.periodic or p.keyframe_every <= 0:
        return None
    return max(1, round(p.keyframe_every * float(fps or 25)))


def _source_paths(inputs: Mapping[str, Any]) -> tuple[Path | None, Path | None]:
    h, r = inputs.get("hints"), inputs.get("reference")
    return (Path(h) if h else None), (Path(r) if r else None)


@register
class Colorize(Workflow):
    name = "colorize"
    title = "Colorize"
    description = ("Give a black-and-white photo or video plausible colour: a colorization model "
                   "when installed, or the built-in modes from colour hints or a reference photo; "
                   "video colour is carried along motion so it does not flicker; audio kept.")
    inputs = (
        InputSpec("input", kinds=("video", "image"),
                  description="A black-and-white photo or video."),
        InputSpec("hints", kinds=("json", "image"), required=False,
                  description="Colour hints: a .json of points/strokes, or the photo with "
                              "colour scribbles painted on it."),
        InputSpec("reference", kinds=("image",), required=False,
                  description="A colour photo of a similar scene to take colours from."),
    )
    Params = ColorizeParams

    def output_suffix(self, inputs: Mapping[str, Path], params: BaseModel) -> str:
        return output_suffix_for(Path(inputs["input"]))

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: BaseModel,
            output: Path) -> WorkflowResult:
        p: ColorizeParams = self.parse_params(params)  # type: ignore[assignment]
        src = Path(inputs["input"])
        info = probe(src)
        hints, reference = _source_paths(inputs)
        source = ColorSource(p, hints=hints, reference=reference)
        if info.kind == "image":
            outputs, meta = _run_image(ctx, src, Path(output), source, p, self.name)
            return WorkflowResult(outputs, meta)
        meta = _run_video(ctx, src, Path(output), info, source, p, self.name)
        return WorkflowResult({"video": Path(meta["output"]["path"])}, meta)


def _run_image(ctx: JobContext, src: Path, output: Path, source: ColorSource, p: ColorizeParams,
               workflow: str) -> tuple[dict[str, Path], dict[str, Any]]:
    from reelsmith.workflows.backends import backend_metadata

    started = time.monotonic()
    ctx.stage(workflow, 0.0, 1.0)
    image, _ = read_image(src)
    rgb = np.ascontiguousarray(image[..., :3])
    check_monochrome(rgb, p.force)
    post = build_post_chain(p.post, Stream("image", image.shape[1], image.shape[0]))
    residual = residual_chroma(rgb)
    coloured = source.image(rgb, p.strength)
    ctx.check()
    out = coloured if image.shape[2] == 3 else np.dstack([coloured, image[..., 3:]])
    out = post.apply_image(out)
    final = write_image(output, out)
    meta: dict[str, Any] = {
        "workflow": workflow, "mode": source.mode,
        "input": {"width": image.shape[1], "height": image.shape[0], "kind": "image",
                  "residual_chroma": round(residual, 2)},
        "output": {"width": out.shape[1], "height": out.shape[0], "path": str(final),
                   "colourfulness": round(colourfulness(coloured), 2)},
        "seconds": round(time.monotonic() - started, 3),
        "colorizer": source.describe(),
        **post.metadata(),
        **backend_metadata({"colorize": source.describe(), **post.roles}),
    }
    ctx.progress(1.0, force=True)
    return {"image": final}, meta


def _run_video(ctx: JobContext, src: Path, output: Path, info: MediaInfo, source: ColorSource,
               p: ColorizeParams, workflow: str) -> dict[str, Any]:
    from reelsmith.workflows.backends import backend_metadata
    from reelsmith.workflows.video import process_video

    stage = ColorizeStage(source.key_chroma, keyframe_every=_keyframe_frames(p, source, info.fps),
                          strength=p.strength)
    post = build_post_chain(p.post, Stream.of(info))
    out = post.stream
    meta = process_video(ctx, src, output, info=info, stages=[stage, *post.stages],
                         out_size=out.size, out_fps=out.fps or info.fps or Fraction(25),
                         constant_rate=not out.variable_rate, encode=p, stage_label=workflow,
                         extra=lambda: {"mode": source.mode, "colorize": stage.describe(),
                                        "colorizer": source.describe(),
                                        **post.metadata()})
    meta.update(workflow=workflow, **backend_metadata({"colorize": source.describe(),
                                                       **post.roles}))
    return meta


# -- the post step --------------------------------------------------------------------------

def parse_step(spec: PostSpec) -> ColorizeStep:
    """``colorize[:STRENGTH][,model=NAME][,reference=PATH][,hints=PATH][,tint=sepia]...``."""
    values = {"strength": spec.value} if spec.value is not None else {}
    step: ColorizeStep = fields_from_spec(ColorizeStep, values, spec)  # type: ignore[assignment]
    for key in ("reference", "hints"):
        path = getattr(step, key)
        if path is not None and not Path(path).expanduser().is_file():
            raise InputError(f"Post step {spec.text!r}: the {key} file {path} does not exist.")
    return step


def _allowed(path: str | None) -> Path | None:
    """A post step's file, checked against the allowed roots like any input path."""
    if path is None:
        return None
    from reelsmith.config import get_settings
    from reelsmith.inputs import resolve_path

    return Path(resolve_path(path, get_settings()))


def build_step(p: ColorizeStep, stream: Stream) -> PostStep:
    source = ColorSource(p, hints=_allowed(p.hints), reference=_allowed(p.reference))
    if stream.kind == "image":
        def image(img: np.ndarray) -> np.ndarray:
            rgb = np.ascontiguousarray(img[..., :3])
            check_monochrome(rgb, p.force)
            out = source.image(rgb, p.strength)
            return out if img.shape[2] == 3 else np.dstack([out, img[..., 3:]])

        return PostStep(stream, source.describe(), image=image)
    stage = ColorizeStage(source.key_chroma, keyframe_every=_keyframe_frames(p, source, stream.fps),
                          strength=p.strength)
    return PostStep(stream, source.describe(), stage=stage, stats=stage.describe)


register_post_step("colorize", build_step, parse=parse_step, kinds=("image", "video"),
                   summary="Colour a black-and-white picture: colorize, colorize:0.8, options "
                           "model=, reference=PATH, hints=PATH, tint=, force=.")
