"""Turn validated params + a probed input into engine stages (built-in or model-backed)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import cv2
import numpy as np

from reelsmith.errors import InputError, ModelError
from reelsmith.media.probe import MediaInfo
from reelsmith.ops.upscale import ClassicalUpscaler, target_size
from reelsmith.workflows.backends import describe_of
from reelsmith.workflows.params import InterpolateFields, UpscaleFields
from reelsmith.workflows.stages import InterpolateStage, UpscaleStage

MAX_OUTPUT_PIXELS = 7680 * 4320


def _select(kind: str, spec: str, **kwargs: Any):
    """A model-backed op for ``spec`` ("upscaler" | "interpolator"), or None for the built-in."""
    spec = (spec or "auto").strip()
    if spec == "builtin":
        return None
    try:
        from reelsmith import models
    except ImportError:
        if spec == "auto":
            return None
        raise ModelError(f"Model {spec!r} cannot be used: the model layer is not available.") from None
    return getattr(models, f"select_{kind}")(spec, **kwargs)


def select_upscaler(spec: str, scale: int | None):
    return _select("upscaler", spec, scale=scale)


def select_interpolator(spec: str):
    return _select("interpolator", spec)


class PerThreadInterpolator:
    """One interpolator instance per worker thread (OpenCV flow objects are not thread-safe).

    ``prepare`` and ``interpolate`` for one pair always run on the same thread.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._proto = factory()
        self.name = self._proto.name

    def _get(self) -> Any:
        inst = getattr(self._local, "inst", None)
        if inst is None:
            inst = self._local.inst = self._factory()
        return inst

    def prepare(self, a: np.ndarray, b: np.ndarray) -> Any:
        return self._get().prepare(a, b)

    def interpolate(self, state: Any, t: float) -> np.ndarray:
        return self._get().interpolate(state, t)

    def describe(self) -> dict[str, Any]:
        return describe_of(self._proto)



def build_upscale(width: int, height: int, p: UpscaleFields) -> tuple[UpscaleStage, tuple[int, int], dict]:
    """Stage, output (width, height) and a description of what will run."""
    out_w, out_h = target_size(width, height, scale=p.scale if p.height is None else None,
                               target_height=p.height)
    if out_w * out_h > MAX_OUTPUT_PIXELS:
        raise InputError(f"The output would be {out_w}x{out_h}, larger than 8K (7680x4320); "
                         "choose a smaller scale or height.")
    model = select_upscaler(p.model, p.scale)
    if model is None:
        up = ClassicalUpscaler(size=(out_w, out_h), sharpen=p.sharpen)
        return UpscaleStage(up), (out_w, out_h), {"upscaler": describe_of(up)}
    model_scale = int(getattr(model, "scale", 1))
    resize = None
    if (width * model_scale, height * model_scale) != (out_w, out_h):
        interp = cv2.INTER_AREA if width * model_scale > out_w else cv2.INTER_LANCZOS4

        def resize(img: np.ndarray) -> np.ndarray:
            return cv2.resize(img, (out_w, out_h), interpolation=interp)

    desc = describe_of(model) | ({"resized_to": [out_w, out_h]} if resize else {})
    return UpscaleStage(model, resize), (out_w, out_h), {"upscaler": desc}


def _configure_rife(model: Any, p: InterpolateFields) -> None:
    """Pass the RIFE options to a model that has them; refuse them for one that has not."""
    configure = getattr(model, "configure", None)
    if configure is not None:
        configure(scale=p.rife_scale, ensemble=p.rife_ensemble)
    elif p.rife_scale != 1.0 or p.rife_ensemble:
        raise InputError(f"rife_scale and rife_ensemble apply to RIFE PyTorch checkpoints; "
                         f"the model {model.name!r} ({model.backend}) has no such options.")


def build_interpolate(info: MediaInfo, p: InterpolateFields) -> tuple[InterpolateStage, Fraction, bool, dict]:
    """Stage, output fps, whether the output is constant-rate, and a description."""
    from reelsmith.ops.interpolate import FlowInterpolator, is_duplicate
    from reelsmith.ops.scene_cut import is_scene_cut

    in_fps = info.fps or Fraction(25)
    model = select_interpolator(p.interpolation_model)
    thr = p.scene_threshold
    if model is not None:
        _configure_rife(model.model, p)
        interp = model
        # the stage reads model.workers: the model declares how many threads may feed it

        def cut(a: np.ndarray, b: np.ndarray) -> bool:
            return is_scene_cut(a, b) if thr is None else is_scene_cut(a, b, threshold=thr)

        checks = {"is_cut": cut, "is_duplicate": is_duplicate}
    else:
        # The built-in interpolator detects cuts and duplicates in prepare() (once per pair).
        interp = PerThreadInterpolator(lambda: FlowInterpolator(quality=p.quality, cut_threshold=thr))
        checks = {}

    nominal = 1 / float(in_fps)
    if p.fps is not None:
        out_fps = Fraction(p.fps).limit_denominator(1001)
        stage = InterpolateStage(interp, fps=out_fps, duration=info.duration or None,
                                 nominal_interval=nominal, **checks)
        constant = True
    else:
        m = p.multiplier or 2
        out_fps = in_fps * m
        stage = InterpolateStage(interp, multiplier=m, duration=info.duration or None,
                                 nominal_interval=nominal, **checks)
        constant = not info.variable_frame_rate
    return stage, out_fps, constant, {"interpolator": describe_of(interp)}
