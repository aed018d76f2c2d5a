"""Colour transfer, skin ring, Poisson/feather blending and the piecewise-affine warp, on the
astronaut photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from facephotos import landmarks, photo, psnr

from reelsmith.errors import InputError
from reelsmith.ops.blend import feather_blend, seamless_blend
from reelsmith.ops.color_transfer import lab_transfer, skin_ring
from reelsmith.ops.face_mask import MaskOptions, landmark_mask
from reelsmith.ops.face_warp import delaunay, piecewise_affine

pytest.importorskip("skimage")


def _disc(shape, centre, radius) -> np.ndarray:
    m = np.zeros(shape[:2], np.float32)
    cv2.circle(m, centre, radius, 1.0, -1)
    return m


def _lab(im: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(im.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)


def test_lab_transfer_brings_a_shifted_face_back_in_the_ring():
    im = photo("astronaut")
    lm = landmarks("astronaut")
    mask = landmark_mask(im, lm, options=MaskOptions(include_hair=False, expand=1, padding=0, blur=0), refine=False)
    ring = skin_ring(mask, 12)
    assert ring.sum() > 0 and (ring <= mask).all()
    shifted = cv2.cvtColor(im, cv2.COLOR_RGB2HSV)
    shifted[..., 0] = (shifted[..., 0].astype(int) + 12) % 180  # a hue shift
    shifted = cv2.cvtColor(shifted, cv2.COLOR_HSV2RGB)
    shifted = np.clip(shifted.astype(np.float32) * 0.8 + 20, 0, 255).astype(np.uint8)  # and contrast
    sel = ring > 0
    def mean_de(a):
        return float(np.linalg.norm(_lab(a)[sel].mean(0) - _lab(im)[sel].mean(0)))
    before = mean_de(shifted)
    fixed = lab_transfer(shifted, im, src_mask=ring, ref_mask=ring)
    after = mean_de(fixed)
    assert before > 5 and after < 1.0
    assert fixed.dtype == np.uint8
    std_ratio = _lab(fixed)[sel].std(0) / _lab(im)[sel].std(0)
    assert np.allclose(std_ratio, 1, atol=0.1)
    assert np.array_equal(lab_transfer(shifted, im, src_mask=ring, ref_mask=ring, strength=0.0), shifted)
    assert np.array_equal(lab_transfer(shifted, im, src_mask=ring * 0, ref_mask=ring), shifted)
    with pytest.raises(InputError, match="must match"):
        lab_transfer(shifted, im, src_mask=ring[:10], ref_mask=ring)


def test_skin_ring_is_the_band_inside_the_edge():
    m = _disc((200, 200), (100, 100), 60)
    ring = skin_ring(m, 10)
    assert ring[100, 45] == 1 and ring[100, 100] == 0 and ring[100, 30] == 0
    assert 0.2 < ring.sum() / m.sum() < 0.4  # 1 - (50/60)^2 = 0.31
    with pytest.raises(InputError):
        skin_ring(m, 0)


def _edge_step(img: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute difference between horizontally neighbouring pixels across the mask edge."""
    inside = mask > 0.5
    cross = inside[:, 1:] != inside[:, :-1]
    d = np.abs(img[:, 1:].astype(np.float32) - img[:, :-1].astype(np.float32)).sum(-1)
    return float(d[cross].mean())


def test_seamless_blend_has_no_seam_and_leaves_the_outside():
    dst = photo("astronaut")
    src = np.clip(dst.astype(np.int16) + np.array([50, 20, -30]), 0, 255).astype(np.uint8)  # offset colours
    mask = _disc(dst.shape, (250, 200), 70)
    out = seamless_blend(dst, src, mask)
    assert np.array_equal(out[mask == 0], dst[mask == 0])
    naive = feather_blend(dst, src, mask)
    own = _edge_step(dst, mask)
    assert _edge_step(naive, mask) > 3 * own  # the plain paste shows the offset as a seam
    assert _edge_step(out, mask) < 1.5 * own
    # Inside, the Poisson result keeps src's detail (gradients), not a flat fill.
    inner = _disc(dst.shape, (250, 200), 50) > 0
    gi = np.abs(np.diff(out.astype(np.float32), axis=1))[inner[:, 1:]].mean()
    gs = np.abs(np.diff(src.astype(np.float32), axis=1))[inner[:, 1:]].mean()
    assert gi == pytest.approx(gs, rel=0.2)


def test_seamless_blend_at_the_border_and_with_an_empty_mask():
    dst = photo("astronaut")
    src = np.clip(dst.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    corner = _disc(dst.shape, (0, 0), 90)
    out = seamless_blend(dst, src, corner)
    assert np.array_equal(out[corner == 0], dst[corner == 0])
    assert psnr(out, dst) > 20
    assert np.array_equal(seamless_blend(dst, src, np.zeros(dst.shape[:2], np.float32)), dst)
    whole = seamless_blend(dst, src, np.ones(dst.shape[:2], np.float32))
    assert whole.shape == dst.shape
    with pytest.raises(InputError, match="one size"):
        seamless_blend(dst, src[:100], corner)


def test_feather_blend_mixes_by_alpha():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 200, np.uint8)
    assert (feather_blend(a, b, 0.25) == 50).all()
    alpha = np.zeros((4, 4), np.float32)
    alpha[1, 1] = 1
    out = feather_blend(a, b, alpha)
    assert out[1, 1, 0] == 200 and out.sum() == 600


def test_piecewise_affine_reproduces_an_affine_and_the_identity():
    im = photo("astronaut")
    rng = np.random.default_rng(0)
    pts = rng.uniform(150, 350, (68, 2))
    a = np.array([[1.05, 0.1, -12.0], [-0.08, 0.95, 9.0]])
    moved = pts @ a[:, :2].T + a[:, 2]
    ref = cv2.warpAffine(im, a, (512, 512))
    out, cov = piecewise_affine(im, pts, moved, im.shape)
    hull = np.zeros(im.shape[:2], np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(moved.astype(np.int32)), 1)
    hull = cv2.erode(hull, np.ones((5, 5), np.uint8)) > 0
    assert cov[hull].min() == 1.0
    assert psnr(out[hull], ref[hull]) > 35
    same, cov2 = piecewise_affine(im, pts, pts, im.shape)
    assert np.array_equal(same[cov2 > 0], im[cov2 > 0])
    assert (cov2 > 0).sum() > (hull.sum())  # the boundary ring covers the surroundings too
    assert same[cov2 == 0].max() == 0


def test_delaunay_and_bad_points():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10], [5, 5]], np.float64)
    tris = delaunay(square)
    assert len(tris) == 4 and set(tris.ravel()) == set(range(5))
    with pytest.raises(InputError, match="differ"):
        piecewise_affine(np.zeros((8, 8, 3), np.uint8), square, square[:4], (8, 8))
    with pytest.raises(InputError, match="at least 3"):
        piecewise_affine(np.zeros((8, 8, 3), np.uint8), square[:2], square[:2], (8, 8))
