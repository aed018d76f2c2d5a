"""Face detection per backend: faces found / missed / false positives, ms per image.

On the shared photos (one face on astronaut, einstein, blurry-face, lr-face and camera; none
on chelsea (a cat), coffee and rommel (checked by eye)) and on every 10th frame of
``carphone_pristine.mp4`` (a talking head: one face per frame). Needs ../shared; prints a
markdown table. YuNet runs from ../shared/models when the models directory has no copy.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, shared, table  # noqa: E402

from reelsmith.analysis.faces.detect import AUTO_ORDER, select_detector  # noqa: E402
from reelsmith.errors import ModelError  # noqa: E402
from reelsmith.media.images import read_image  # noqa: E402
from reelsmith.media.reader import VideoReader  # noqa: E402

EXPECTED = {"astronaut.png": 1, "einstein.png": 1, "blurry-face.jpg": 1, "lr-face.jpg": 1,
            "camera.png": 1, "chelsea.png": 0, "coffee.png": 0, "rommel.jpg": 0}
YUNET = Path(__file__).resolve().parents[2] / "shared" / "models" / "face_detection_yunet_2023mar.onnx"


def _detector(name: str):
    try:
        return select_detector(name)
    except ModelError:
        if name == "yunet" and YUNET.is_file():
            return select_detector(str(YUNET))
        raise


def _score(det, images: list[tuple[str, object, int]]) -> tuple[int, int, int, float, list[str]]:
    found = missed = false = 0
    ms = 0.0
    notes = []
    for name, img, expected in images:
        det.detect(img)  # warm-up outside the timing
        t = time.perf_counter()
        n = len(det.detect(img))
        ms += (time.perf_counter() - t) * 1000
        found += min(n, expected)
        missed += max(expected - n, 0)
        false += max(n - expected, 0)
        if n != expected:
            notes.append(f"{name}: {n}")
    return found, missed, false, ms / max(len(images), 1), notes


def main() -> int:
    folder = shared("images")
    video = shared("video", "carphone_pristine.mp4")
    if folder is None or video is None:
        print("needs ../shared/data (images and carphone_pristine.mp4)")
        return 0
    photos = [(n, read_image(folder / n)[0][:, :, :3], e) for n, e in EXPECTED.items()
              if (folder / n).is_file()]
    frames = [(f"frame {f.index}", f.image[:, :, :3], 1)
              for f in VideoReader(video) if f.index % 10 == 0]
    rows = []
    for name in AUTO_ORDER:
        try:
            det = _detector(name)
        except ModelError as exc:
            rows.append([name, "not installed", "", "", "", "", "", str(exc)[:60]])
            continue
        pf, pm, pfa, pms, pn = _score(det, photos)
        vf, vm, vfa, vms, vn = _score(det, frames)
        rows.append([name, f"{pf}/{sum(e for *_, e in photos)}", pm, pfa, f"{pms:.1f}",
                     f"{vf}/{len(frames)} (miss {vm}, false {vfa})", f"{vms:.1f}",
                     "; ".join(pn + vn[:3])])
    print(f"Face detection ({machine()}); photos at full size, video frames 176x144\n")
    print(table(["backend", "photos found", "missed", "false", "ms/photo", "video frames found",
                 "ms/frame", "mismatches"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
