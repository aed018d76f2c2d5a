"""Dense optical flow on numpy frames (OpenCV DIS), computed on downscaled grayscale.

Flows are ``HxWx2`` float32 arrays in pixels of the image they were computed on:
``flow[y, x] = (dx, dy)`` means that pixel ``(x, y)`` of the first image is found at
``(x + dx, y + dy)`` in the second one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from reelsmith.errors import InputError


@dataclass(frozen=True)
class FlowSettings:
    """How a flow is computed.

    ``max_pixels`` bounds the area the flow is computed on: larger frames are downscaled
    (aspect kept) and the flow is scaled back by the caller. ``finest_scale`` is DIS's
    finest pyramid level (0 = full resolution of the flow image, slower and sharper).
    """

    dis_preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
    finest_scale: int | None = None
    refinement_iterations: int | None = None
    max_pixels: int = 400_000


def check_frame(img: np.ndarray, what: str = "frame") -> None:
    """Raise :class:`InputError` unless ``img`` is an HxWx3 uint8/uint16 array."""
    if not isinstance(img, np.ndarray):
        raise InputError(f"The {what} must be a numpy array, not {type(img).__name__}.")
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"The {what} must be an HxWx3 RGB image; it has shape {img.shape}.")
    if img.dtype not in (np.uint8, np.uint16):
        raise InputError(f"The {what} must be uint8 or uint16; it is {img.dtype}.")
    if img.shape[0] < 2 or img.shape[1] < 2:
        raise InputError(f"The {what} is too small ({img.shape[1]}x{img.shape[0]}).")


def check_pair(a: np.ndarray, b: np.ndarray) -> None:
    """Raise :class:`InputError` unless ``a`` and ``b`` are valid frames of one size and depth."""
    check_frame(a, "first frame")
    check_frame(b, "second frame")
    if a.shape != b.shape:
        raise InputError(f"The two frames differ in size: {a.shape[1]}x{a.shape[0]} "
                         f"and {b.shape[1]}x{b.shape[0]}.")
    if a.dtype != b.dtype:
        raise InputError(f"The two frames differ in bit depth: {a.dtype} and {b.dtype}.")


def to_gray8(img: np.ndarray) -> np.ndarray:
    """RGB uint8/uint16 -> grayscale uint8 (DIS works on 8-bit single-channel images)."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)


def flow_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The (width, height) a flow is computed at for a frame of this size."""
    area = width * height
    if area <= max_pixels:
        return width, height
    s = math.sqrt(max_pixels / area)
    return max(8, round(width * s)), max(8, round(height * s))


def downscale(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``gray`` to ``size`` (w, h) with area averaging (no-op when equal)."""
    if (gray.shape[1], gray.shape[0]) == size:
        return gray
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a flow field to ``size`` (w, h), scaling its vectors with the image."""
    h, w = flow.shape[:2]
    if (w, h) == size:
        return flow
    out = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= size[0] / w
    out[..., 1] *= size[1] / h
    return out


class DenseFlow:
    """DIS optical flow with the given :class:`FlowSettings` (one instance per thread)."""

    def __init__(self, settings: FlowSettings | None = None) -> None:
        self.settings = settings or FlowSettings()
        dis = cv2.DISOpticalFlow_create(self.settings.dis_preset)
        if self.settings.finest_scale is not None:
            dis.setFinestScale(self.settings.finest_scale)
        if self.settings.refinement_iterations is not None:
            dis.setVariationalRefinementIterations(self.settings.refinement_iterations)
        self._dis = dis

    def calc(self, g0: np.ndarray, g1: np.ndarray) -> np.ndarray:
        """Flow from grayscale uint8 ``g0`` to ``g1`` (same size)."""
        return self._dis.calc(g0, g1, None)

    def bidirectional(self, g0: np.ndarray, g1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Forward (0->1) and backward (1->0) flows."""
        return self.calc(g0, g1), self.calc(g1, g0)


def bidirectional_flow(a: np.ndarray, b: np.ndarray,
                       settings: FlowSettings | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward flow between two RGB frames, at full frame resolution.

    The flow is computed on downscaled grayscale when the frames exceed
    ``settings.max_pixels`` and upscaled (vectors scaled) to the frame size.
    """
    check_frame(a, "first frame")
    check_frame(b, "second frame")
    settings = settings or FlowSettings()
    h, w = a.shape[:2]
    size = flow_size(w, h, settings.max_pixels)
    ga, gb = downscale(to_gray8(a), size), downscale(to_gray8(b), size)
    f01, f10 = DenseFlow(settings).bidirectional(ga, gb)
    return resize_flow(f01, (w, h)), resize_flow(f10, (w, h))
