"""Parameter pieces shared by the video workflows.

Each field is declared once with :func:`~reelsmith.workflows.schema.param`: choices as
``Literal`` types, bounds as pydantic constraints, unit/group/order as schema metadata. The
CLI flags, the API docs and the studio forms are all generated from these declarations.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from reelsmith.media.writer import CODEC_ALIASES
from reelsmith.workflows.schema import param

CodecName = Literal["h264", "h265", "vp9", "av1", "h264_nvenc", "hevc_nvenc"]
"""The codecs :data:`reelsmith.media.writer.CODECS` can write (a test keeps the two equal)."""


def _canonical_codec(value: Any) -> Any:
    """"HEVC", "x265", "libx265" ... -> "h265"; anything else is left for the Literal to judge."""
    if isinstance(value, str):
        key = value.strip().lower()
        return CODEC_ALIASES.get(key, key)
    return value


Codec = Annotated[CodecName, BeforeValidator(_canonical_codec)]
"""A codec field's type: one of :data:`CodecName`, other common spellings accepted."""

ENCODING = "Encoding"


class EncodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codec: Codec | None = param(
        None, description="Output video codec; h264 when unset (vp9 for a .webm output).",
        group=ENCODING, order=90, value_aliases=CODEC_ALIASES)
    crf: int | None = param(None, ge=0, le=63, group=ENCODING, order=91,
                            description="Quality (lower is better); codec default when unset.")
    preset: str | None = param(None, group=ENCODING, order=92, advanced=True,
                               examples=["ultrafast", "fast", "medium", "slow"],
                               description="Encoder speed preset (e.g. x264's 'medium').")


class UpscaleFields(BaseModel):
    scale: int | None = param(
        None, ge=1, le=8, unit="x", group="Upscale", order=10, exclusive="size",
        description="Integer scale factor (2, 3, 4...). Default 2 when neither scale nor "
                    "height is given.")
    height: int | None = param(
        None, ge=16, le=8640, unit="px", group="Upscale", order=11, exclusive="size",
        description="Target output height in pixels (width follows the aspect ratio). "
                    "Exclusive with scale.")
    model: str = param("auto", group="Upscale", order=12, examples=["auto", "builtin"],
                       description="auto | builtin | a catalog model name | a path to weights.")
    sharpen: float = param(0.6, ge=0, le=2, group="Upscale", order=13, advanced=True,
                           description="Edge-aware sharpening of the built-in upscaler.")

    @model_validator(mode="after")
    def _one_size(self):
        if self.scale is not None and self.height is not None:
            raise ValueError("give either scale or height, not both")
        return self


class InterpolateFields(BaseModel):
    multiplier: int | None = param(
        None, ge=2, le=16, unit="x", group="Interpolate", order=20, exclusive="rate",
        description="Frames per input frame (2 doubles the frame rate). Default 2 when fps "
                    "is not given.")
    fps: float | None = param(
        None, gt=0, le=480, unit="fps", group="Interpolate", order=21, exclusive="rate",
        description="Target constant frame rate (e.g. 60). Exclusive with multiplier.")
    interpolation_model: str = param(
        "auto", group="Interpolate", order=22, examples=["auto", "builtin"],
        cli={"aliases": ["--model"]}, description="auto | builtin | catalog name | path.")
    quality: Literal["fast", "medium", "high"] = param(
        "medium", group="Interpolate", order=23,
        description="Built-in interpolator preset: fast | medium | high.")
    scene_threshold: float | None = param(
        None, ge=0, le=1, group="Interpolate", order=24, advanced=True,
        description="Scene-cut sensitivity (lower detects more cuts); default is tuned.")
    rife_scale: float = param(
        1.0, gt=0, le=2, group="Interpolate", order=25, advanced=True,
        examples=[1.0, 0.5],
        description="RIFE flow estimation scale: 1 (default), 0.5 for 4K (\"UHD\"), 0.25 or 2.")
    rife_ensemble: bool = param(
        False, group="Interpolate", order=26, advanced=True,
        description="RIFE ensemble: also run on the swapped frame pair and average (slower; "
                    "RIFE checkpoints whose blocks do not pass features, i.e. not 4.25).")

    @model_validator(mode="after")
    def _one_rate(self):
        if self.multiplier is not None and self.fps is not None:
            raise ValueError("give either multiplier or fps, not both")
        if self.rife_scale not in (0.25, 0.5, 1.0, 2.0):
            raise ValueError("rife_scale must be 0.25, 0.5, 1 or 2 (0.5 for 4K)")
        return self
