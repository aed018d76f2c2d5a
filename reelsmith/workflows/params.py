"""Parameter pieces shared by the video workflows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reelsmith.media.writer import CODEC_ALIASES, CODECS


class EncodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    codec: str | None = Field(None, description="Output codec: h264 (default), h265, vp9, av1, "
                              "h264_nvenc, hevc_nvenc.")
    crf: int | None = Field(None, ge=0, le=63, description="Quality (lower is better); codec default when unset.")
    preset: str | None = Field(None, description="Encoder speed preset (e.g. x264's 'medium').")

    @field_validator("codec")
    @classmethod
    def _known_codec(cls, v: str | None) -> str | None:
        if v is None:
            return v
        key = CODEC_ALIASES.get(v.strip().lower(), v.strip().lower())
        if key not in CODECS:
            raise ValueError(f"unknown codec {v!r}; valid: {', '.join(sorted(CODECS))}")
        return key


class UpscaleFields(BaseModel):
    scale: int | None = Field(None, ge=1, le=8, description="Integer scale factor (2, 3, 4...). "
                              "Default 2 when neither scale nor height is given.")
    height: int | None = Field(None, ge=16, le=8640, description="Target output height in pixels "
                               "(width follows the aspect ratio). Exclusive with scale.")
    model: str = Field("auto", description="auto | builtin | a catalog model name | a path to weights.")
    sharpen: float = Field(0.6, ge=0, le=2, description="Edge-aware sharpening of the built-in upscaler.")

    @model_validator(mode="after")
    def _one_size(self):
        if self.scale is not None and self.height is not None:
            raise ValueError("give either scale or height, not both")
        return self


class InterpolateFields(BaseModel):
    multiplier: int | None = Field(None, ge=2, le=16, description="Frames per input frame "
                                   "(2 doubles the frame rate). Default 2 when fps is not given.")
    fps: float | None = Field(None, gt=0, le=480, description="Target constant frame rate "
                              "(e.g. 60). Exclusive with multiplier.")
    interpolation_model: str = Field("auto", description="auto | builtin | catalog name | path.")
    quality: str = Field("medium", description="Built-in interpolator preset: fast | medium | high.")
    scene_threshold: float | None = Field(None, ge=0, le=1, description="Scene-cut sensitivity "
                                          "(lower detects more cuts); default is tuned.")

    @model_validator(mode="after")
    def _one_rate(self):
        if self.multiplier is not None and self.fps is not None:
            raise ValueError("give either multiplier or fps, not both")
        if self.quality not in ("fast", "medium", "high"):
            raise ValueError("quality must be fast, medium or high")
        return self
