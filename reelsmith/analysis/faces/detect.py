"""Face detection behind one interface, with the best installed backend chosen by ``auto``.

Every backend is a small class in its own module (``detect_yunet``, ``detect_mediapipe``,
``detect_mtcnn``, ``detect_dlib``, ``detect_haar``) that satisfies :class:`FaceDetector`:
an RGB uint8 image in, :class:`~reelsmith.analysis.faces.types.Face` records out, sorted by
score, with the five ArcFace-order points always filled (``extra["kps_estimated"]`` says when
a backend could only estimate some of them).

``select_detector("auto")`` tries the backends in :data:`AUTO_ORDER` and returns the first
that is installed and allowed by the licence profile. The order follows the detection
benchmark (``benchmarks/faces_detect.py``, 2 CPU cores): YuNet and MediaPipe both find every
face in the shared photos and video frames with no false positive; YuNet comes first because
its five points are all measured (MediaPipe estimates the mouth corners) and it is one
Apache-2.0 file run by OpenCV, while MediaPipe's graph runs from a wheel installed without its
pinned protobuf. MTCNN finds them all too but is ten times slower; dlib's HOG detector misses
turned faces and its 68-point model is non-commercial; the Haar cascade is the last resort
(misses, a false positive, no points).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from reelsmith.analysis.faces.types import Face
from reelsmith.errors import InputError, ModelError
from reelsmith.models.licence import check_allowed, refusal


@runtime_checkable
class FaceDetector(Protocol):
    """What every detection backend offers."""

    name: str
    license: str
    commercial: bool | str

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image`` (HxWx3 uint8 RGB), highest score first."""
        ...


#: backend name -> "module:factory" (the factory takes no argument and raises ModelError
#: saying how to install what is missing).
BACKENDS: dict[str, str] = {
    "yunet": "reelsmith.analysis.faces.detect_yunet:YuNetDetector",
    "mediapipe": "reelsmith.analysis.faces.detect_mediapipe:MediaPipeDetector",
    "mtcnn": "reelsmith.analysis.faces.detect_mtcnn:MtcnnDetector",
    "dlib": "reelsmith.analysis.faces.detect_dlib:DlibDetector",
    "haar": "reelsmith.analysis.faces.detect_haar:HaarDetector",
}

#: ``auto`` tries these in turn (see the module docstring for why this order).
AUTO_ORDER = ("yunet", "mediapipe", "mtcnn", "dlib", "haar")

_LOCAL = threading.local()


def thread_cache(kind: str) -> dict:
    """This thread's dict of loaded ``kind`` objects (detectors, landmark predictors).

    Loading is slow (a second for dlib's 68-point model), so each thread keeps what it
    loaded; the objects themselves keep per-call state (OpenCV's ``FaceDetectorYN`` its input
    size, MediaPipe its graph) and must not be shared by two jobs running on two threads.
    """
    caches = _LOCAL.__dict__.setdefault("caches", {})
    return caches.setdefault(kind, {})


def _factory(name: str) -> Callable[..., FaceDetector]:
    module, _, attr = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def _allowed(det: FaceDetector) -> FaceDetector:
    check_allowed(f"{det.name} face detector", det.license, det.commercial,
                  getattr(det, "commercial_note", ""))
    return det


def select_detector(spec: str = "auto") -> FaceDetector:
    """The detector ``spec`` names: auto | yunet | mediapipe | mtcnn | dlib | haar | a path to
    a YuNet ``.onnx`` file.

    Raises ModelError when a named backend is not installed (the message says how to install
    it) or the licence profile refuses it; InputError for an unknown name. ``auto`` skips
    backends that are missing or refused; the Haar cascade (in OpenCV) is always there.
    """
    key = (spec or "auto").strip()
    low = key.lower()
    if low.endswith(".onnx") or "/" in key or "\\" in key:
        path = Path(key).expanduser()
        if not path.is_file():
            raise ModelError(f"The YuNet model file {key} does not exist.")
        return _allowed(_factory("yunet")(path))
    if low == "auto":
        return _auto()
    if low not in BACKENDS:
        raise InputError(f"Unknown face detector {spec!r}; use auto, {', '.join(BACKENDS)} "
                         "or the path of a YuNet .onnx file.")
    cache = thread_cache("detectors")
    if low not in cache:
        cache[low] = _factory(low)()
    return _allowed(cache[low])


def _auto() -> FaceDetector:
    reasons = []
    cache = thread_cache("detectors")
    for name in AUTO_ORDER:
        try:
            det = cache.get(name) or _factory(name)()
        except ModelError as exc:
            reasons.append(f"{name}: {exc}")
            continue
        cache[name] = det
        why = refusal(f"{det.name} face detector", det.license, det.commercial,
                      getattr(det, "commercial_note", ""))
        if why is None:
            return det
        reasons.append(f"{name}: {why}")
    raise ModelError("No face detector is available: " + " ".join(reasons))


def available_detectors() -> list[str]:
    """Names of the backends that are installed here (licence profile not applied)."""
    out = []
    cache = thread_cache("detectors")
    for name in AUTO_ORDER:
        try:
            cache.setdefault(name, _factory(name)())
        except ModelError:
            continue
        out.append(name)
    return out


def check_image(image: np.ndarray) -> np.ndarray:
    """``image`` as contiguous HxWx3 uint8 RGB (alpha dropped); InputError otherwise."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise InputError(f"Face detection needs an HxWx3 RGB image, not an array of shape {a.shape}.")
    if a.dtype != np.uint8:
        if a.dtype == np.uint16:
            a = (a >> 8).astype(np.uint8)
        else:
            raise InputError(f"Face detection needs 8-bit pixels, not {a.dtype}.")
    return np.ascontiguousarray(a[:, :, :3])


def by_score(faces: list[Face]) -> list[Face]:
    """``faces`` sorted by score, highest first."""
    return sorted(faces, key=lambda f: -f.score)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    ix = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    iy = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    inter = ix * iy
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def suppress_overlaps(faces: list[Face], threshold: float = 0.5) -> list[Face]:
    """``faces`` by score without those overlapping a better one by IoU > ``threshold``."""
    kept: list[Face] = []
    for f in by_score(faces):
        if all(box_iou(f.box, k.box) <= threshold for k in kept):
            kept.append(f)
    return kept


def clip_box(box: np.ndarray, width: int, height: int) -> np.ndarray:
    b = np.asarray(box, dtype=np.float32).copy()
    b[[0, 2]] = np.clip(b[[0, 2]], 0, width)
    b[[1, 3]] = np.clip(b[[1, 3]], 0, height)
    return b


#: Where the five points sit inside a detector's face box, on average (fractions of the box
#: width/height, ArcFace order), measured from YuNet's points on the shared photos. Used only
#: by backends that give no points; faces then carry ``extra["kps_estimated"] = True``.
BOX_KPS = np.array([[0.32, 0.40], [0.68, 0.40], [0.50, 0.60], [0.35, 0.78], [0.65, 0.78]],
                   dtype=np.float32)


def kps_from_box(box: np.ndarray) -> np.ndarray:
    """Five points estimated from a face box by :data:`BOX_KPS` (for backends without points)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return (np.array([x1, y1], np.float32) + BOX_KPS * np.array([x2 - x1, y2 - y1], np.float32))
