"""The built-in landmark swap between two real people (scikit-image's astronaut and
cameraman): the output face's dlib identity embedding is closer to the source than to the
target, and nothing outside the mask changes."""

from __future__ import annotations

import numpy as np
import pytest
from facephotos import embedding, face_rect, landmarks, photo, psnr

from reelsmith.errors import InputError
from reelsmith.ops.face_mask import MaskOptions
from reelsmith.ops.face_swap_builtin import swap_face


@pytest.mark.parametrize(("source", "target"), [("camera", "astronaut"), ("astronaut", "camera")])
@pytest.mark.parametrize("blend", ["seamless", "feather"])
def test_swap_moves_identity_to_the_source(source, target, blend):
    src, tgt = photo(source), photo(target)
    out, mask = swap_face(src, landmarks(source), tgt, landmarks(target), blend=blend)
    e_src = embedding(src, face_rect(source))
    e_tgt = embedding(tgt, face_rect(target))
    e_out = embedding(out, face_rect(target))
    d_src, d_tgt = np.linalg.norm(e_out - e_src), np.linalg.norm(e_out - e_tgt)
    print(f"{source} -> {target} ({blend}): distance to source {d_src:.3f}, to target {d_tgt:.3f}")
    assert d_src < d_tgt
    outside = mask == 0
    assert np.array_equal(out[outside], tgt[outside])
    assert psnr(out[outside], tgt[outside]) > 40
    assert mask.max() == 1.0 and mask[outside].size > 0.8 * mask.size


def test_swap_mask_options_and_colour_switch():
    src, tgt = photo("camera"), photo("astronaut")
    ls, lt = landmarks("camera"), landmarks("astronaut")
    small, m_small = swap_face(src, ls, tgt, lt, options=MaskOptions(include_hair=False, expand=1, padding=0, blur=0))
    big, m_big = swap_face(src, ls, tgt, lt, options=MaskOptions(include_hair=False, expand=1.1, padding=5, blur=5))
    assert (m_big > 0).sum() > (m_small > 0).sum()
    plain, _ = swap_face(src, ls, tgt, lt, colour=False, blend="feather")
    toned, m = swap_face(src, ls, tgt, lt, colour=True, blend="feather")
    # colour transfer makes the grey cameraman's skin take the astronaut's colour (chroma)
    inside = m > 0.9
    def chroma(a):
        return np.abs(a[..., 0].astype(np.float32) - a[..., 2])[inside].mean()
    assert chroma(toned) > chroma(plain) + 5


def test_bad_swap_arguments():
    img = np.zeros((64, 64, 3), np.uint8)
    lm = np.random.default_rng(0).uniform(10, 50, (68, 2))
    with pytest.raises(InputError, match="68 finite"):
        swap_face(img, lm[:5], img, lm)
    with pytest.raises(InputError, match="blend"):
        swap_face(img, lm, img, lm, blend="poisson")
    with pytest.raises(InputError, match="target image"):
        swap_face(img, lm, img[..., 0], lm)
