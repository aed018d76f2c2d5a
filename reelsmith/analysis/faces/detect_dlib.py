"""dlib's HOG frontal face detector with its 68-point shape predictor for the points.

The HOG detector (Boost licence) finds frontal and slightly turned faces; it has no points of
its own, so this backend runs the 68-point predictor on every box and takes the five points
from it (:func:`~reelsmith.analysis.faces.types.kps_from_68`). The predictor's licence (iBUG
300-W, non-commercial) therefore applies to the whole backend. Scores are HOG SVM margins
mapped to (0, 1) with a logistic curve (margin 0 -> 0.5).
"""

from __future__ import annotations

import numpy as np

from reelsmith.analysis.faces.detect import by_score, check_image, clip_box
from reelsmith.analysis.faces.landmarks import IBUG_NOTE, DlibLandmarker, dlib_module
from reelsmith.analysis.faces.types import Face, kps_from_68


class DlibDetector:
    name = "dlib"
    license = DlibLandmarker.license
    commercial: bool | str = False
    commercial_note = IBUG_NOTE

    def __init__(self, upsample: int = 1, min_margin: float = 0.5) -> None:
        self._hog = dlib_module().get_frontal_face_detector()
        self._landmarker = DlibLandmarker()
        self.upsample = upsample
        self.min_margin = min_margin

    def describe(self) -> dict:
        return {"backend": "dlib", "name": "hog+shape_predictor_68", "license": self.license}

    def detect(self, image: np.ndarray) -> list[Face]:
        rgb = check_image(image)
        h, w = rgb.shape[:2]
        rects, margins, _ = self._hog.run(rgb, self.upsample, self.min_margin)
        faces = []
        for r, m in zip(rects, margins, strict=True):
            box = np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], np.float32)
            pts = self._landmarker.predict(rgb, box)
            faces.append(Face(box=clip_box(box, w, h), score=float(1 / (1 + np.exp(-2 * m))),
                              kps=kps_from_68(pts), landmarks=pts, detector=self.name))
        return by_score(faces)
