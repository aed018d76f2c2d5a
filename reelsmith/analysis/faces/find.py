"""One call for "the faces in this image": detect, drop the ones too small, add landmarks.

:class:`FaceFinder` pairs a detector (:func:`~.detect.select_detector`) with an optional
landmarker (:func:`~.landmarks.select_landmarker`). Faces whose shorter box side is below
``min_size`` pixels are not processed by restorers or swappers (too few pixels to align); they
are kept in :attr:`FaceScan.skipped` so reports can say so instead of dropping them silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reelsmith.analysis.faces.detect import FaceDetector, check_image, select_detector
from reelsmith.analysis.faces.landmarks import Landmarker, select_landmarker
from reelsmith.analysis.faces.types import Face

MIN_SIZE = 24


@dataclass
class FaceScan:
    """What :meth:`FaceFinder.find` saw: processable faces and the ones too small."""

    faces: list[Face]
    skipped: list[Face] = field(default_factory=list)
    detector: str = ""
    landmarker: str | None = None
    min_size: int = MIN_SIZE
    licences: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """Which detector and landmarker ran and their licences (JSON-ready)."""
        return {"detector": self.detector, "landmarker": self.landmarker,
                "licences": dict(self.licences), "min_size": self.min_size}

    def skipped_reason(self) -> str:
        return f"too small to process (< {self.min_size} px)"

    def to_dict(self) -> dict[str, Any]:
        return {"faces": [f.to_dict() for f in self.faces],
                "skipped": [f.to_dict() | {"reason": self.skipped_reason()} for f in self.skipped]}


class FaceFinder:
    """Detector + landmarker + size filter. ``landmarks``: True/"auto" (when installed and
    allowed), False/"none", or a landmarker name ("dlib": an error when missing/refused)."""

    def __init__(self, detector: str | FaceDetector = "auto", landmarks: bool | str = True,
                 min_size: int = MIN_SIZE) -> None:
        self.detector = select_detector(detector) if isinstance(detector, str) else detector
        self.landmarker: Landmarker | None = select_landmarker(landmarks)
        self.min_size = int(min_size)

    def find(self, image: np.ndarray) -> FaceScan:
        rgb = check_image(image)
        found = self.detector.detect(rgb)
        faces = [f for f in found if f.size >= self.min_size]
        skipped = [f for f in found if f.size < self.min_size]
        if self.landmarker is not None and faces:
            need = [f.landmarks is None for f in faces]
            if any(need):
                fitted = iter(self.landmarker.fit(rgb, [f for f, n in zip(faces, need, strict=True) if n]))
                faces = [next(fitted) if n else f for f, n in zip(faces, need, strict=True)]
        licences = {self.detector.name: self.detector.license}
        if self.landmarker is not None:
            licences[self.landmarker.name] = self.landmarker.license
        return FaceScan(faces, skipped, self.detector.name,
                        self.landmarker.name if self.landmarker else None, self.min_size, licences)

    def describe(self) -> dict[str, Any]:
        """Which detector and landmarker run, their licences, as a backend description."""
        det = self.detector
        desc = dict(getattr(det, "describe", lambda: {})())
        out: dict[str, Any] = {
            "backend": desc.get("backend", "opencv"), "name": desc.get("name", det.name),
            "provider": desc.get("provider"),
            "detector": det.name, "detector_license": det.license,
            "detector_commercial": det.commercial, "min_size": self.min_size,
            "landmarker": None, "landmarker_license": None,
        }
        if self.landmarker is not None:
            out.update(landmarker=self.landmarker.name, landmarker_license=self.landmarker.license,
                       landmarker_commercial=self.landmarker.commercial)
        return out
