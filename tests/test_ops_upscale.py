"""The built-in upscaler on numpy arrays."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mediagen import psnr
from reelsmith.errors import InputError
from reelsmith.ops import ClassicalUpscaler, target_size, upscale_image


def natural(h: int = 96, w: int = 128) -> np.ndarray:
    rng = np.random.default_rng(3)
    img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 2.5)
    img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)
    cv2.rectangle(img, (20, 20), (70, 60), (250, 250, 250), -1)
    cv2.circle(img, (95, 50), 18, (10, 20, 200), -1)
    return img


def test_sizes():
    assert target_size(175, 143, scale=2) == (350, 286)
    assert target_size(1280, 720, target_height=1080) == (1920, 1080)
    assert target_size(175, 143, scale=1, even=True) == (176, 144)
    with pytest.raises(InputError):
        target_size(10, 10, scale=0)


def test_upscale_beats_bilinear_and_has_no_halo():
    hr = natural(192, 256)
    lr = cv2.resize(hr, (128, 96), interpolation=cv2.INTER_AREA)
    ours = upscale_image(lr, scale=2)
    assert ours.shape == hr.shape and ours.dtype == np.uint8
    bilinear = cv2.resize(lr, (256, 192), interpolation=cv2.INTER_LINEAR)
    assert psnr(ours, hr) > psnr(bilinear, hr) + 0.3
    # Clamped sharpening never overshoots the local range of the plain Lanczos result.
    plain = upscale_image(lr, scale=2, sharpen=0)
    k = np.ones((3, 3), np.uint8)
    assert (ours <= cv2.dilate(plain, k)).all() and (ours >= cv2.erode(plain, k)).all()


def test_uint16_alpha_and_odd_size():
    img16 = (natural(43, 35).astype(np.uint16) * 257)
    out = upscale_image(img16, scale=3)
    assert out.shape == (129, 105, 3) and out.dtype == np.uint16
    rgba = np.dstack([natural(43, 35), np.full((43, 35), 128, np.uint8)])
    out = ClassicalUpscaler(scale=2).upscale(rgba)
    assert out.shape == (86, 70, 4)
    assert np.all(np.abs(out[..., 3].astype(int) - 128) <= 1)


def test_flat_areas_are_not_sharpened():
    flat = np.full((40, 40, 3), 90, np.uint8)
    assert np.array_equal(upscale_image(flat, scale=2), np.full((80, 80, 3), 90, np.uint8))
