"""Real face photos for the face-op tests: scikit-image's bundled astronaut (a frontal face)
and cameraman (a three-quarter face), with dlib's 68 landmarks and 128-D identity embeddings.
dlib, its 68-point model (Debian libdlib-data) and face-recognition-models are installed by
``make test``; tests skip when one is missing."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from modelgen import package_dir

PREDICTOR = Path("/usr/share/dlib/shape_predictor_68_face_landmarks.dat")


def dlib_or_skip():
    dlib = pytest.importorskip("dlib")
    pytest.importorskip("skimage")
    if not PREDICTOR.is_file():
        pytest.skip("dlib's 68-point model (libdlib-data) is not installed")
    return dlib


@lru_cache(maxsize=1)
def _dlib_models():
    dlib = dlib_or_skip()
    return dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(str(PREDICTOR))


def photo(name: str) -> np.ndarray:
    """``astronaut`` or ``camera`` as HxWx3 uint8 RGB."""
    import skimage.data

    im = getattr(skimage.data, name)()
    return np.ascontiguousarray(np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im)


@lru_cache(maxsize=4)
def _face(name: str):
    dlib, det, sp = _dlib_models()
    im = photo(name)
    if name == "camera":  # a small face: find it on a 2x crop, then place the box in the photo
        x0, y0 = 130, 60
        big = cv2.resize(im[y0:280, x0:350], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        r = det(big, 0)[0]
        rect = dlib.rectangle(x0 + r.left() // 2, y0 + r.top() // 2, x0 + r.right() // 2, y0 + r.bottom() // 2)
    else:
        rect = det(im, 0)[0]
    return rect, np.array([[p.x, p.y] for p in sp(im, rect).parts()], dtype=np.float64)


def landmarks(name: str) -> np.ndarray:
    """dlib's 68 landmarks of the one face in photo ``name``."""
    return _face(name)[1].copy()


def face_rect(name: str):
    return _face(name)[0]


@lru_cache(maxsize=1)
def _embedder():
    dlib = dlib_or_skip()
    pkg = package_dir("face_recognition_models")
    model = pkg / "models" / "dlib_face_recognition_resnet_model_v1.dat" if pkg else None
    if model is None or not model.is_file():
        pytest.skip("face-recognition-models (dlib's 128-D face embedding) is not installed")
    return dlib.face_recognition_model_v1(str(model))


def embedding(image: np.ndarray, rect) -> np.ndarray:
    """dlib's 128-D identity embedding of the face in ``rect`` (landmarks found afresh)."""
    _, _, sp = _dlib_models()
    return np.array(_embedder().compute_face_descriptor(image, sp(image, rect)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
