"""OpenCV's Haar cascade: the last-resort detector, no install beyond OpenCV 4.

The cascade files ship in the opencv-contrib 4.x wheel (``cv2.data``); OpenCV 5 drops them,
and then this backend reports itself missing. The cascade gives boxes only: the five points
are estimated from the box (:func:`reelsmith.analysis.faces.detect.kps_from_box`) and every
face says so in ``extra["kps_estimated"]``; run a landmarker for real points. The score is
derived from the number of overlapping raw detections the cascade merged (``n / (n + 10)``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reelsmith.analysis.faces.detect import check_image, clip_box, kps_from_box, suppress_overlaps
from reelsmith.analysis.faces.types import Face
from reelsmith.errors import ModelError

CASCADE = "haarcascade_frontalface_default.xml"


class HaarDetector:
    name = "haar"
    license = "BSD-3-Clause (Intel License Agreement)"
    commercial: bool | str = True

    def __init__(self, min_neighbors: int = 6) -> None:
        folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
        path = Path(folder or "") / CASCADE
        if not folder or not path.is_file() or not hasattr(cv2, "CascadeClassifier"):
            raise ModelError("OpenCV's Haar cascades are not installed (OpenCV 5 dropped them): "
                             "install opencv-contrib-python-headless<5.")
        self._cascade = cv2.CascadeClassifier(str(path))
        self.min_neighbors = min_neighbors

    def describe(self) -> dict:
        return {"backend": "opencv", "name": "haar-frontalface", "license": self.license}

    def detect(self, image: np.ndarray) -> list[Face]:
        rgb = check_image(image)
        h, w = rgb.shape[:2]
        grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        boxes, counts = self._cascade.detectMultiScale2(
            grey, scaleFactor=1.1, minNeighbors=self.min_neighbors,
            minSize=(max(12, min(h, w) // 40),) * 2)
        faces = []
        for (x, y, bw, bh), n in zip(np.reshape(boxes, (-1, 4)), np.ravel(counts), strict=True):
            box = clip_box(np.array([x, y, x + bw, y + bh], np.float32), w, h)
            faces.append(Face(box=box, score=float(n / (n + 10.0)), kps=kps_from_box(box),
                              detector=self.name, extra={"kps_estimated": True}))
        return suppress_overlaps(faces)
