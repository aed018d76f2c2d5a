"""Post steps: more stages after a workflow's own, in the same streaming pipeline.

A video- or image-producing workflow takes ``post: list[str]`` (e.g.
``["face_restore", "upscale:2", "interpolate:60fps"]``). Each entry names a registered step;
the steps run after the workflow's own stages inside the one ``process_video`` pipeline (one
decode, one encode: no intermediate file), or one after another on the pixels of an image.
The output size and frame rate follow the last step.

Grammar of one entry (spaces around the parts are ignored)::

    name[:value][,key=value...]

``value`` is the step's main argument ("2", "x2", "1080p", "60fps" ...), ``key=value`` are
options ("model=builtin", "strength=0.6"); ``name:key=value`` is read as an option too. A
string holding several steps separated by commas (``"face_restore,upscale:2"``, what
``--post a,b`` gives on the command line) is split where a piece is not a ``key=value``
option of the step before it. Entries are checked when the params are parsed: an unknown
step or a bad argument is an :class:`~reelsmith.errors.InputError` naming the entry.

Registering a step (the registry is open: a workflow module registers its own on import)::

    register_post_step(name, build, *, parse=None, kinds=("video", "image"), summary="...")

``parse(spec: PostSpec) -> options`` runs when params are parsed: it turns the entry's
:class:`PostSpec` (``name``, ``value: str | None``, ``options: dict[str, str]``, ``text``)
into whatever the builder wants and raises ``InputError`` (or ``ValueError``) for a bad one;
it must not load models. Without ``parse`` the builder receives the :class:`PostSpec` itself.

``build(options, stream: Stream) -> PostStep`` runs when the workflow runs, with the
description of the stream the step receives (:class:`Stream`: kind, width, height, fps,
variable_rate, duration, the probed source). It returns a :class:`PostStep`: ``stage`` (an
engine stage, ``process(frame) -> frames`` / ``flush() -> frames``; required for video),
``image`` (``HxWxC uint8 -> HxWxC uint8``; required for images), ``stream`` (the stream
after the step: new size, fps, rate), ``description`` (a ``describe()`` dict: ``backend``,
``name`` (model), ``provider`` -- what :func:`~reelsmith.workflows.backends.backend_metadata`
reads) and optionally ``stats`` (called after the run; its dict joins the step's metadata).
A stage must not change a frame's image in place (assign a new array to ``frame.image``):
a source may yield one array for several frames (the reel renderer holds frames that way).

A workflow builds its chain with :func:`build_post_chain` and reads the stages, the final
stream, the backend roles (``post.<name>``) and the ``post`` metadata list from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ValidationError, field_validator

from reelsmith.engine.pipeline import Stage
from reelsmith.errors import InputError
from reelsmith.media.frame import Frame
from reelsmith.media.probe import MediaInfo
from reelsmith.workflows.base import format_validation_error, unknown_name
from reelsmith.workflows.builders import build_interpolate, build_upscale
from reelsmith.workflows.params import InterpolateFields, UpscaleFields
from reelsmith.workflows.schema import param

StreamKind = Literal["video", "image"]


@dataclass(frozen=True)
class Stream:
    """What flows into a step: ``kind``, picture size, frame rate and timing.

    ``source`` is the probed input (None for an image a workflow made itself); ``fps`` is
    None for images.
    """

    kind: StreamKind
    width: int
    height: int
    fps: Fraction | None = None
    variable_rate: bool = False
    duration: float | None = None
    source: MediaInfo | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @classmethod
    def of(cls, info: MediaInfo) -> Stream:
        """The stream a workflow decodes from ``info`` (display orientation)."""
        w, h = info.display_size
        if info.kind == "image":
            return cls("image", w, h, source=info)
        return cls("video", w, h, fps=info.fps or Fraction(25),
                   variable_rate=info.variable_frame_rate, duration=info.duration or None,
                   source=info)

    def but(self, **changes: Any) -> Stream:
        """A copy with ``changes`` (e.g. ``stream.but(width=w, height=h)``)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class PostSpec:
    """One parsed ``post`` entry: ``name[:value][,key=value...]``."""

    name: str
    value: str | None
    options: dict[str, str]
    text: str


@dataclass
class PostStep:
    """What a builder returns (see the module doc)."""

    stream: Stream
    description: dict[str, Any]
    stage: Stage | None = None
    image: Callable[[np.ndarray], np.ndarray] | None = None
    stats: Callable[[], dict[str, Any]] | None = None


@dataclass(frozen=True)
class _Entry:
    name: str
    build: Callable[[Any, Stream], PostStep]
    parse: Callable[[PostSpec], Any] | None
    kinds: tuple[str, ...]
    summary: str


_STEPS: dict[str, _Entry] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def register_post_step(name: str, build: Callable[[Any, Stream], PostStep], *,
                       parse: Callable[[PostSpec], Any] | None = None,
                       kinds: Sequence[str] = ("video", "image"), summary: str = "") -> None:
    """Make ``name`` usable in every workflow's ``post`` list (signatures in the module doc).

    Registering a name again replaces the step. Raises ValueError for a name that is not
    lower-case letters, digits and underscores, or kinds other than "video"/"image".
    """
    if not _NAME.match(name):
        raise ValueError(f"post step name {name!r}: use lower-case letters, digits and _")
    if not kinds or set(kinds) - {"video", "image"}:
        raise ValueError(f"post step {name!r}: kinds must be 'video' and/or 'image', not {kinds!r}")
    _STEPS[name] = _Entry(name, build, parse, tuple(kinds), summary)


def post_steps() -> dict[str, str]:
    """Registered step names -> their one-line summaries."""
    return {k: _STEPS[k].summary for k in sorted(_STEPS)}


def _entry(name: str, text: str) -> _Entry:
    try:
        return _STEPS[name]
    except KeyError:
        raise InputError(unknown_name(name, _STEPS, "post step", repr(text))) from None


def parse_post_spec(text: str) -> PostSpec:
    """Split one entry into name, value and options (no registry look-up)."""
    head, *rest = [p.strip() for p in str(text).split(",")]
    name, colon, value = head.partition(":")
    name, value = name.strip().lower(), value.strip()
    if not name:
        raise InputError(f"Post step {text!r} has no name; write name[:value][,key=value].")
    options: dict[str, str] = {}
    if colon and "=" in value:
        rest.insert(0, value)
        value = ""
    for piece in rest:
        key, eq, val = piece.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not eq or not key or not val.strip():
            raise InputError(f"Post step {text!r}: {piece!r} is not an option of the form "
                             "key=value.")
        options[key] = val.strip()
    return PostSpec(name, value or None, options, str(text).strip())


def split_post_steps(text: str) -> list[str]:
    """``"face_restore,upscale:2,model=builtin"`` -> ``["face_restore", "upscale:2,model=builtin"]``.

    A comma-separated piece of the form ``key=value`` (no ":" before the "=") belongs to the
    step before it; any other piece starts a new step.
    """
    steps: list[str] = []
    for piece in (p.strip() for p in str(text).split(",")):
        if not piece:
            continue
        key, eq, _ = piece.partition("=")
        if eq and ":" not in key and steps:
            steps[-1] += "," + piece
        else:
            steps.append(piece)
    return steps


def check_post_step(text: str) -> Any:
    """Parse ``text`` and its arguments: the options its builder will get (InputError if bad)."""
    spec = parse_post_spec(text)
    entry = _entry(spec.name, spec.text)
    if entry.parse is None:
        return spec
    try:
        return entry.parse(spec)
    except ValidationError as exc:
        raise InputError(format_validation_error(exc, f"post step {spec.text!r}")) from None
    except ValueError as exc:
        raise InputError(f"Post step {spec.text!r}: {exc}") from None


class _Renamed:
    """A stage under another name, so stage_seconds tell two upscale stages apart."""

    def __init__(self, stage: Stage, name: str) -> None:
        self.stage = stage
        self.name = name

    def process(self, frame: Frame) -> list[Frame]:
        return self.stage.process(frame)

    def flush(self) -> list[Frame]:
        return self.stage.flush()


@dataclass
class _Built:
    role: str
    text: str
    step: PostStep


@dataclass
class PostChain:
    """The built steps of a ``post`` list, in order, from the stream they start on."""

    start: Stream
    built: list[_Built] = field(default_factory=list)

    @property
    def stream(self) -> Stream:
        """The stream the last step produces (the start when there are no steps)."""
        return self.built[-1].step.stream if self.built else self.start

    @property
    def stages(self) -> list[Stage]:
        """The engine stages, each named after its role (``post.upscale`` ...)."""
        return [_Renamed(b.step.stage, b.role) for b in self.built  # type: ignore[arg-type]
                if b.step.stage is not None]

    def apply_image(self, image: np.ndarray) -> np.ndarray:
        """Run every step on an image, in order."""
        for b in self.built:
            image = b.step.image(image)  # type: ignore[misc]
        return image

    @property
    def roles(self) -> dict[str, dict[str, Any]]:
        """Role -> description, for :func:`~reelsmith.workflows.backends.backend_metadata`."""
        return {b.role: b.step.description for b in self.built}

    def metadata(self) -> dict[str, Any]:
        """``{"post": [...]}`` (one dict per step, run statistics included), or {} without steps."""
        if not self.built:
            return {}
        out = []
        for b in self.built:
            s = b.step.stream
            item = {"step": b.text, "role": b.role, "description": b.step.description,
                    "width": s.width, "height": s.height}
            if s.fps is not None:
                item["fps"] = round(float(s.fps), 4)
            if b.step.stats is not None:
                item.update(b.step.stats())
            out.append(item)
        return {"post": out}


def build_post_step(name: str, options: Any, stream: Stream, *, text: str | None = None) -> PostStep:
    """Build the registered step ``name`` from already-parsed ``options`` on ``stream``.

    Raises InputError when the step does not apply to the stream's kind or does not give
    what that kind needs (a stage for video, an image function for images).
    """
    entry = _entry(name, text or name)
    label = text or name
    if stream.kind not in entry.kinds:
        raise InputError(f"Post step {label!r} works on {' and '.join(entry.kinds)} only; "
                         f"this output is {'an image' if stream.kind == 'image' else 'a video'}.")
    step = entry.build(options, stream)
    if (stream.kind == "video" and step.stage is None) or (stream.kind == "image" and step.image is None):
        raise InputError(f"Post step {label!r} cannot run on {stream.kind} output.")
    return step


def build_post_chain(steps: Sequence[str], start: Stream) -> PostChain:
    """Build ``steps`` (entries of a ``post`` list) one after another from ``start``."""
    chain = PostChain(start)
    seen: dict[str, int] = {}
    for text in steps:
        options = check_post_step(text)
        spec = parse_post_spec(text)
        seen[spec.name] = seen.get(spec.name, 0) + 1
        role = f"post.{spec.name}" + (f".{seen[spec.name]}" if seen[spec.name] > 1 else "")
        step = build_post_step(spec.name, options, chain.stream, text=spec.text)
        chain.built.append(_Built(role, spec.text, step))
    return chain


# -- the post field every producing workflow declares -------------------------------------

def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in (split_post_steps(v) if isinstance(v, str) else [v])]
    return value


PostList = Annotated[list[str], BeforeValidator(_as_list)]


class PostFields(BaseModel):
    """The ``post`` parameter: mix into a workflow's ``Params``."""

    post: PostList = param(
        default_factory=list, group="Post steps", order=80,
        examples=[["upscale:2"], ["interpolate:60fps", "upscale:1080p,model=builtin"]],
        description="Steps run after the workflow, in the same pass: name[:value][,key=value], "
                    "e.g. upscale:2, upscale:1080p,model=builtin, interpolate:60fps, "
                    "interpolate:2x.")

    @field_validator("post")
    @classmethod
    def _known_steps(cls, steps: list[str]) -> list[str]:
        for text in steps:
            check_post_step(text)
        return [parse_post_spec(t).text for t in steps]


# -- built-in steps: upscale and interpolate ----------------------------------------------

def fields_from_spec(model: type[BaseModel], values: Mapping[str, Any], spec: PostSpec,
            renames: Mapping[str, str] | None = None) -> BaseModel:
    """``model`` from the main value's fields and the entry's options (renamed)."""
    renames = renames or {}
    known = set(model.model_fields)
    out: dict[str, Any] = dict(values)
    for key, val in spec.options.items():
        key = renames.get(key, key)
        if key not in known:
            raise InputError(f"Post step {spec.text!r}: unknown option {key!r}. Options: "
                             f"{', '.join(sorted(known | set(renames)))}.")
        out[key] = val
    return model.model_validate(out)


_SCALE = re.compile(r"^(?:x(\d+)|(\d+)x?)$")
_HEIGHT = re.compile(r"^(?:h(\d+)|(\d+)p)$")


def parse_upscale(spec: PostSpec) -> UpscaleFields:
    """``upscale[:2|x2|2x|1080p|h1080][,model=NAME][,sharpen=0.6]`` -> UpscaleFields."""
    values: dict[str, Any] = {}
    if spec.value is not None:
        v = spec.value.lower()
        if m := _SCALE.match(v):
            values["scale"] = int(m.group(1) or m.group(2))
        elif m := _HEIGHT.match(v):
            values["height"] = int(m.group(1) or m.group(2))
        else:
            raise InputError(f"Post step {spec.text!r}: {spec.value!r} is neither a scale "
                             "(2, x2) nor a height (1080p, h1080).")
    return fields_from_spec(UpscaleFields, values, spec)  # type: ignore[return-value]


def build_upscale_step(p: UpscaleFields, stream: Stream) -> PostStep:
    stage, (w, h), desc = build_upscale(stream.width, stream.height, p)

    def image(img: np.ndarray) -> np.ndarray:
        out = stage.upscaler.upscale(img)
        return stage.resize(out) if stage.resize is not None else out

    return PostStep(stream.but(width=w, height=h), desc["upscaler"], stage=stage, image=image)


_FPS = re.compile(r"^(\d+(?:\.\d+)?)(?:fps)?$")
_MULT = re.compile(r"^(?:x(\d+)|(\d+)x)$")


def parse_interpolate(spec: PostSpec) -> InterpolateFields:
    """``interpolate[:60fps|60|2x|x2][,model=NAME][,quality=high]...`` -> InterpolateFields."""
    values: dict[str, Any] = {}
    if spec.value is not None:
        v = spec.value.lower()
        if m := _MULT.match(v):
            values["multiplier"] = int(m.group(1) or m.group(2))
        elif m := _FPS.match(v):
            values["fps"] = float(m.group(1))
        else:
            raise InputError(f"Post step {spec.text!r}: {spec.value!r} is neither a frame rate "
                             "(60fps, 60) nor a multiplier (2x, x2).")
    return fields_from_spec(InterpolateFields, values, spec,  # type: ignore[return-value]
                   renames={"model": "interpolation_model"})


def build_interpolate_step(p: InterpolateFields, stream: Stream) -> PostStep:
    if stream.source is None:
        raise InputError("Post step 'interpolate' needs a video stream with a known source.")
    # build_interpolate reads the rate and timing from a MediaInfo: the stream's own.
    info = replace(stream.source, fps=stream.fps, duration=stream.duration or 0.0,
                   variable_frame_rate=stream.variable_rate)
    stage, fps, constant, desc = build_interpolate(info, p)
    return PostStep(stream.but(fps=fps, variable_rate=not constant), desc["interpolator"],
                    stage=stage, stats=stage.describe)


register_post_step("upscale", build_upscale_step, parse=parse_upscale,
                   summary="Enlarge: upscale:2, upscale:1080p, options model=, sharpen=.")
register_post_step("interpolate", build_interpolate_step, parse=parse_interpolate,
                   kinds=("video",),
                   summary="Raise the frame rate: interpolate:60fps, interpolate:2x, option model=.")
