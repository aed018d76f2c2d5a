"""Built-in face enhancement on a real face crop degraded with blur and noise: PSNR against
the clean crop improves, the outside of the mask is untouched, strength 0 is the identity."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from facephotos import photo, psnr

from reelsmith.errors import InputError
from reelsmith.ops.face_enhance import enhance_face, estimate_noise

pytest.importorskip("skimage")


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    face = photo("astronaut")[40:300, 120:330]  # the face with hair, upscaled like an aligned crop
    return cv2.resize(face, (512, 512), interpolation=cv2.INTER_CUBIC)


def _degrade(img: np.ndarray, blur: float, noise: float, seed: int = 1) -> np.ndarray:
    out = cv2.GaussianBlur(img, (0, 0), blur).astype(np.float32)
    out += np.random.default_rng(seed).normal(0, noise, out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("blur", "noise", "gain_db"), [(1.0, 8.0, 3.0), (1.5, 20.0, 5.0)])
def test_enhance_improves_psnr_on_a_degraded_face(clean, blur, noise, gain_db):
    bad = _degrade(clean, blur, noise)
    out = enhance_face(bad, np.ones(clean.shape[:2], np.float32), strength=1.0)
    before, after = psnr(bad, clean), psnr(out, clean)
    print(f"blur {blur} noise {noise}: {before:.2f} dB -> {after:.2f} dB")
    assert after > before + gain_db


def test_noise_estimate_tracks_the_added_noise(clean):
    luma = cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY).astype(np.float32)
    for sigma in (5.0, 15.0):
        noisy = luma + np.random.default_rng(3).normal(0, sigma, luma.shape)
        assert estimate_noise(noisy) == pytest.approx(sigma, rel=0.25)


def test_outside_the_mask_and_strength_zero_are_untouched(clean):
    bad = _degrade(clean, 1.0, 12.0)
    mask = np.zeros(clean.shape[:2], np.float32)
    mask[100:400, 120:380] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), 8)
    mask[mask < 1e-3] = 0
    out = enhance_face(bad, mask, strength=0.8)
    assert np.array_equal(out[mask == 0], bad[mask == 0])
    assert not np.array_equal(out[mask > 0.5], bad[mask > 0.5])
    assert np.array_equal(enhance_face(bad, mask, strength=0.0), bad)
    # a partial strength lands between input and full enhancement
    full = enhance_face(bad, mask, strength=1.0).astype(np.float32)
    half = enhance_face(bad, mask, strength=0.5).astype(np.float32)
    core = mask > 0.99
    assert np.abs(half - bad)[core].mean() == pytest.approx(0.5 * np.abs(full - bad)[core].mean(), rel=0.2)


def test_bad_arguments_are_input_errors(clean):
    with pytest.raises(InputError, match="must match"):
        enhance_face(clean, np.ones((10, 10), np.float32))
    with pytest.raises(InputError, match="strength"):
        enhance_face(clean, np.ones(clean.shape[:2], np.float32), strength=2.0)
    with pytest.raises(InputError, match="HxWx3"):
        enhance_face(clean[..., 0], np.ones(clean.shape[:2], np.float32))
