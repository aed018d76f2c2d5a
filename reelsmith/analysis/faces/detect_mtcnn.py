"""MTCNN (facenet-pytorch, MIT; its three small networks' weights ship inside the wheel).

Only ``facenet_pytorch.models.mtcnn`` is imported (see :mod:`.optional_import`). MTCNN's five
points are the image-left eye, image-right eye, nose, image-left and image-right mouth
corners: the ArcFace order. Runs on the CPU with PyTorch.
"""

from __future__ import annotations

import numpy as np

from reelsmith.analysis.faces.detect import by_score, check_image, clip_box
from reelsmith.analysis.faces.optional_import import import_inside
from reelsmith.analysis.faces.types import Face
from reelsmith.errors import ModelError

INSTALL = ('pip install --no-deps "facenet-pytorch==2.6.0" (and PyTorch with torchvision: '
           "`make install-torch`)")


class MtcnnDetector:
    name = "mtcnn"
    license = "MIT"
    commercial: bool | str = True

    def __init__(self, min_face: int = 20, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8),
                 min_score: float = 0.9) -> None:
        try:
            mod = import_inside("facenet_pytorch", "models.mtcnn")
        except ImportError as exc:
            raise ModelError(f"The MTCNN face detector needs facenet-pytorch ({exc}): {INSTALL}.") from None
        self._net = mod.MTCNN(keep_all=True, min_face_size=min_face, thresholds=list(thresholds),
                              device="cpu", post_process=False)
        self.min_score = min_score

    def describe(self) -> dict:
        return {"backend": "pytorch", "name": "mtcnn", "provider": "cpu", "license": self.license}

    def detect(self, image: np.ndarray) -> list[Face]:
        import torch

        rgb = check_image(image)
        h, w = rgb.shape[:2]
        with torch.inference_mode():
            boxes, probs, points = self._net.detect(rgb, landmarks=True)
        if boxes is None:
            return []
        faces = [Face(box=clip_box(b, w, h), score=float(p), kps=np.asarray(k, np.float32),
                      detector=self.name)
                 for b, p, k in zip(boxes, probs, points, strict=True) if p is not None and p >= self.min_score]
        return by_score(faces)
