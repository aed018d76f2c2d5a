"""What a found face is, whatever found it.

Conventions every face module shares:

- ``box``: (x1, y1, x2, y2) float32 in the pixels of the image it was found in.
- ``kps``: (5, 2) float32, the five points in the InsightFace/ArcFace order: the eye on the
  image's left, the eye on the image's right, the nose tip, the mouth corner on the image's
  left, the mouth corner on the image's right. Alignment (:mod:`reelsmith.ops.face_align`)
  maps these onto its templates.
- ``landmarks``: (68, 2) float32 in the iBUG 300-W order (jaw 0-16, eyebrows 17-26, nose
  27-35, eyes 36-47, mouth 48-67) when the landmarker gives dense points; landmarkers with
  more points (MediaPipe's 478-point mesh) are mapped onto these 68 and keep their own
  points in ``mesh``.
- ``track_id``: the same number for the same person across the frames of a video (None on
  a still image).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Index ranges of the iBUG 68-point layout.
JAW = range(0, 17)
BROWS = range(17, 27)
NOSE = range(27, 36)
EYE_IMAGE_LEFT = range(36, 42)
EYE_IMAGE_RIGHT = range(42, 48)
MOUTH = range(48, 68)


def kps_from_68(landmarks: np.ndarray) -> np.ndarray:
    """The five alignment points from 68 iBUG landmarks (eye centres, nose tip, mouth corners)."""
    p = np.asarray(landmarks, dtype=np.float32)
    return np.stack([p[EYE_IMAGE_LEFT].mean(0), p[EYE_IMAGE_RIGHT].mean(0), p[30], p[48], p[54]])


@dataclass
class Face:
    box: np.ndarray
    score: float
    kps: np.ndarray
    landmarks: np.ndarray | None = None
    mesh: np.ndarray | None = None
    track_id: int | None = None
    detector: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def size(self) -> float:
        """The shorter side of the box, in pixels (what "too small to process" is judged on)."""
        return min(self.width, self.height)

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rounded pixel coordinates (dense landmarks only when present)."""
        def r(a: np.ndarray) -> list:
            return np.round(np.asarray(a, dtype=np.float64), 2).tolist()

        data: dict[str, Any] = {"box": r(self.box), "score": round(float(self.score), 4),
                                "kps": r(self.kps), "detector": self.detector}
        if self.landmarks is not None:
            data["landmarks"] = r(self.landmarks)
        if self.track_id is not None:
            data["track_id"] = self.track_id
        return data
