"""Algorithms on numpy frames (no weights needed): flow, warping, interpolation, upscaling."""

from reelsmith.ops.interpolate import (
    FlowInterpolator,
    PairState,
    interpolate_pair,
    is_duplicate,
)
from reelsmith.ops.scene_cut import cut_score, is_scene_cut
from reelsmith.ops.upscale import ClassicalUpscaler, target_size, upscale_image

__all__ = [
    "ClassicalUpscaler",
    "FlowInterpolator",
    "PairState",
    "cut_score",
    "interpolate_pair",
    "is_duplicate",
    "is_scene_cut",
    "target_size",
    "upscale_image",
]
