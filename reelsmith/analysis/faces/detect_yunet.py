"""YuNet face detector (OpenCV Zoo, Apache-2.0) through ``cv2.FaceDetectorYN``.

The published model has a fixed 640x640 input, so any image is letterboxed: scaled so its
longer side is 640, padded at the right/bottom, detected, and the boxes and points scaled
back. The model file comes from the models directory (``reelsmith models pull yunet``) or an
explicit path. The score threshold (0.75) sits between the lowest real face on the shared
photos (0.80, a low-resolution face) and the highest false detection (0.70). YuNet's points
are the subject's right eye, left eye, nose tip, right and left mouth corners: on the image
that is already the ArcFace order (image-left eye first).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reelsmith.analysis.faces.detect import by_score, check_image, clip_box
from reelsmith.analysis.faces.types import Face
from reelsmith.errors import ModelError

INPUT = 640
CATALOG_NAME = "yunet"


def find_yunet() -> Path:
    """The YuNet model in the models directory; ModelError saying how to get it otherwise."""
    from reelsmith.models.store import find_installed

    m = find_installed(CATALOG_NAME) or find_installed("face_detection_yunet_2023mar.onnx")
    if m is None:
        raise ModelError("The YuNet face detector model is not installed: run "
                         "`reelsmith models pull yunet` (232 KB, Apache-2.0), or pass the path "
                         "of a YuNet .onnx file as the detector.")
    return m.path


class YuNetDetector:
    name = "yunet"
    license = "Apache-2.0"
    commercial: bool | str = True

    def __init__(self, path: str | Path | None = None, *, score_threshold: float = 0.75,
                 nms_threshold: float = 0.3) -> None:
        self.path = Path(path) if path is not None else find_yunet()
        try:
            self._net = cv2.FaceDetectorYN.create(str(self.path), "", (INPUT, INPUT),
                                                  score_threshold, nms_threshold, 100)
        except cv2.error as exc:
            raise ModelError(f"{self.path.name} is not a YuNet face detector model OpenCV can "
                             f"load: {str(exc).strip().splitlines()[-1]}") from None

    def describe(self) -> dict:
        return {"backend": "opencv", "name": self.path.stem, "license": self.license}

    def detect(self, image: np.ndarray) -> list[Face]:
        rgb = check_image(image)
        h, w = rgb.shape[:2]
        scale = INPUT / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        canvas = np.zeros((INPUT, INPUT, 3), np.uint8)
        canvas[:nh, :nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA
                                      if scale < 1 else cv2.INTER_LINEAR)[:, :, ::-1]
        _, rows = self._net.detect(canvas)
        faces = []
        for row in rows if rows is not None else []:
            x, y, bw, bh = row[:4] / scale
            kps = (row[4:14].reshape(5, 2) / scale).astype(np.float32)
            faces.append(Face(box=clip_box(np.array([x, y, x + bw, y + bh]), w, h),
                              score=float(row[14]), kps=kps, detector=self.name))
        return by_score(faces)
