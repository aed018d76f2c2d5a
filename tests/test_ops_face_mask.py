"""Face masks on a real photo (the astronaut, dlib's 68 landmarks): coverage, hair, neck,
expand/padding/blur, the no-landmark fallbacks and parsing-label masks."""

from __future__ import annotations

import numpy as np
import pytest
from facephotos import landmarks, photo

from reelsmith.errors import InputError
from reelsmith.ops.face_mask import MaskOptions, landmark_mask, parsing_mask, save_mask_image

TIGHT = {"expand": 1.0, "padding": 0.0, "blur": 0.0}


@pytest.fixture(scope="module")
def astro():
    return photo("astronaut"), landmarks("astronaut")


def _area(m: np.ndarray) -> int:
    return int((m > 0.5).sum())


def test_mask_covers_landmarks_and_stays_zero_far_away(astro):
    im, lm = astro
    m = landmark_mask(im, lm)
    assert m.dtype == np.float32 and m.shape == im.shape[:2]
    assert m[lm[:, 1].astype(int), lm[:, 0].astype(int)].min() == 1.0
    assert m[480:, :].max() == 0.0 and m[:, :40].max() == 0.0  # the suit below, the flag at the left
    assert m.min() >= 0.0 and m.max() <= 1.0


def test_hair_adds_area_above_the_brows(astro):
    im, lm = astro
    with_hair = landmark_mask(im, lm, options=MaskOptions(include_hair=True, **TIGHT))
    without = landmark_mask(im, lm, options=MaskOptions(include_hair=False, **TIGHT))
    brow_top = int(lm[17:27, 1].min())
    added = (with_hair > 0.5) & (without <= 0.5)
    ys = np.nonzero(added)[0]
    assert added.sum() > 0.3 * _area(without)  # the astronaut's hair is a large region
    assert np.median(ys) < brow_top
    # Colour decides: the grey wall beside the head (left of x=150 at brow height) stays out.
    assert with_hair[brow_top, :140].max() == 0.0


def test_neck_adds_area_below_the_chin(astro):
    im, lm = astro
    opts = {"include_hair": False, **TIGHT}
    with_neck = landmark_mask(im, lm, options=MaskOptions(include_neck=True, **opts), refine=False)
    without = landmark_mask(im, lm, options=MaskOptions(**opts), refine=False)
    chin = lm[8, 1]
    added = (with_neck > 0.5) & (without <= 0.5)
    assert added.sum() > 0.1 * _area(without)
    assert np.median(np.nonzero(added)[0]) > chin  # mostly below the chin (it meets the jaw's sides)
    assert np.nonzero(added)[0].max() > chin + 20


def test_expand_and_padding_grow_the_mask_monotonically(astro):
    im, lm = astro
    areas = [_area(landmark_mask(im, lm, options=MaskOptions(include_hair=False, expand=e, padding=0, blur=0),
                                 refine=False)) for e in (1.0, 1.2, 1.5)]
    assert areas[0] < areas[1] < areas[2]
    assert areas[2] == pytest.approx(areas[0] * 1.5 ** 2, rel=0.1)  # a scale about the centre
    padded = [_area(landmark_mask(im, lm, options=MaskOptions(include_hair=False, expand=1, padding=p, blur=0),
                                  refine=False)) for p in (0, 10, 30)]
    assert padded[0] < padded[1] < padded[2]


@pytest.mark.parametrize("blur", [10.0, 30.0])
def test_blur_is_the_width_of_the_soft_edge(astro, blur):
    im, lm = astro
    m = landmark_mask(im, lm, options=MaskOptions(include_hair=False, expand=1, padding=30, blur=blur), refine=False)
    row = m[int(lm[30, 1])]  # through the nose tip: crosses both cheeks' edges
    soft = int(((row > 0.02) & (row < 0.98)).sum()) / 2  # two edges on the row
    assert 0.6 * blur <= soft <= 1.1 * blur
    # without blur the mask is a hard 0/1 region
    hard = landmark_mask(im, lm, options=MaskOptions(include_hair=False, expand=1, padding=0, blur=0), refine=False)
    assert set(np.unique(hard)) == {0.0, 1.0}


def test_scale_multiplies_the_pixel_options(astro):
    im, lm = astro
    opts = MaskOptions(include_hair=False, expand=1, padding=10, blur=0)
    one = _area(landmark_mask(im, lm, options=opts, refine=False))
    two = _area(landmark_mask(im, lm, options=opts, refine=False, scale=2.0))
    base = _area(landmark_mask(im, lm, options=MaskOptions(include_hair=False, expand=1, padding=0, blur=0),
                               refine=False))
    assert two - base > 1.7 * (one - base)


def test_kps_and_box_fallbacks_give_a_face_ellipse(astro):
    im, lm = astro
    from reelsmith.analysis.faces.types import kps_from_68

    kps = kps_from_68(lm)
    box = np.array([lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()])
    ref = landmark_mask(im, lm, options=MaskOptions(include_hair=False, **TIGHT), refine=False) > 0.5
    for m in (landmark_mask(im, None, kps=kps, options=MaskOptions(include_hair=False, **TIGHT), refine=False),
              landmark_mask(im, None, box=box, options=MaskOptions(include_hair=False, **TIGHT), refine=False)):
        got = m > 0.5
        iou = (got & ref).sum() / (got | ref).sum()
        assert iou > 0.6
        assert m[kps[:, 1].astype(int), kps[:, 0].astype(int)].min() == 1.0


def test_bad_geometry_is_an_input_error(astro):
    im, lm = astro
    with pytest.raises(InputError, match="landmarks, its five points or its box"):
        landmark_mask(im, None)
    with pytest.raises(InputError, match="68, 2"):
        landmark_mask(im, lm[:30])
    with pytest.raises(InputError, match="expand"):
        MaskOptions(expand=0)
    with pytest.raises(InputError, match="HxWx3"):
        landmark_mask(im[..., 0], lm)


def test_parsing_mask_follows_the_classes():
    labels = np.zeros((128, 128), np.int64)
    labels[40:100, 40:90] = 1  # skin
    labels[60:64, 50:60] = 4  # an eye
    labels[10:40, 30:100] = 17  # hair above
    labels[100:128, 50:80] = 14  # neck below
    labels[0:10, 0:128] = 18  # hat: never in
    base = {"expand": 1.0, "padding": 0.0, "blur": 0.0}
    face = parsing_mask(labels, MaskOptions(include_hair=False, **base))
    assert face[70, 60] == 1 and face[62, 55] == 1 and face[20, 60] == 0 and face[110, 60] == 0
    hair = parsing_mask(labels, MaskOptions(include_hair=True, **base))
    assert hair[20, 60] == 1 and hair[5, 60] == 0
    neck = parsing_mask(labels, MaskOptions(include_hair=False, include_neck=True, **base))
    assert neck[110, 60] == 1
    soft = parsing_mask(labels, MaskOptions(include_hair=False, expand=1.0, padding=4, blur=4))
    assert soft[70, 60] == 1 and 0 < soft[70, 91] < 1 and soft[70, 100] == 0
    assert parsing_mask(np.zeros((8, 8), np.int64)).max() == 0
    with pytest.raises(InputError, match="0..18"):
        parsing_mask(labels + 5)


def test_save_mask_image_is_a_grey_picture(astro):
    im, lm = astro
    pic = save_mask_image(landmark_mask(im, lm))
    assert pic.dtype == np.uint8 and pic.shape == im.shape
    assert pic.max() == 255 and pic.min() == 0 and (pic[..., 0] == pic[..., 2]).all()


def test_one_face_gives_one_mask(astro):
    """The colour refinement (GrabCut) seeds its own k-means: repeated calls agree exactly,
    so a portrait is reproducible and identical video frames get identical masks."""
    img, lm = astro
    opts = MaskOptions(include_hair=True, expand=1.2, blur=30, padding=50)
    masks = [landmark_mask(img, lm, options=opts) for _ in range(4)]
    assert all(np.array_equal(masks[0], m) for m in masks[1:])  # failed 2 of 3 unseeded
