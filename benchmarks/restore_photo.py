"""Scratch and dust removal on real photos with synthetic defects at three densities: pixel
recall and precision of the detected mask, PSNR of the damaged and the repaired photo against
the clean one, the repaired share of a CLEAN photo (false defects), and seconds per megapixel.

The photos are split so the detector is not tuned to the table: the TUNED set (scikit-image's
camera, astronaut, coffee) is what thresholds were chosen on; the HELD-OUT set (chelsea,
einstein, kodim03, rommel, lr-face from ../shared/data/images, and frames of three clips from
../shared/data/video) was only measured. rommel (3072x2304) is timed whole and damaged as its
central 1024x1024 crop (real scan texture at full resolution). Prints a markdown table.

``--quick`` runs one seed instead of two.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, read_frames, shared, table  # noqa: E402
from defectgen import add_defects, photo, psnr, scores  # noqa: E402

from reelsmith.media.images import read_image  # noqa: E402
from reelsmith.ops.scratches import detect_defects, repair_defects  # noqa: E402

DENSITIES = {"light": (3, 15), "medium": (6, 40), "heavy": (12, 100)}
HELD_IMAGES = ("chelsea.png", "einstein.png", "kodim03.png", "rommel.jpg", "lr-face.jpg")
HELD_FRAMES = {"bigbuckbunny.mp4": 60, "cockatoo.mp4": 60, "bikes.mp4": 100}


def _tuned() -> dict[str, np.ndarray]:
    return {n: photo(n) for n in ("camera", "astronaut", "coffee")}


def _held_out() -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    images, video = shared("images"), shared("video")
    for name in HELD_IMAGES if images is not None else ():
        if (images / name).is_file():
            out[name.split(".")[0]] = np.ascontiguousarray(read_image(images / name)[0][..., :3])
    for name, index in HELD_FRAMES.items() if video is not None else ():
        if (video / name).is_file():
            out[f"{name.split('.')[0]}#{index}"] = read_frames(video / name, limit=index + 1)[-1]
    return out


def _crop(img: np.ndarray, side: int = 1024) -> np.ndarray:
    h, w = img.shape[:2]
    if min(h, w) <= side:
        return img
    y, x = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(img[y:y + side, x:x + side])


def _rows(label: str, photos: dict[str, np.ndarray], seeds: tuple[int, ...]) -> list[list[str]]:
    rows = []
    for name, full in photos.items():
        t = time.perf_counter()
        false = detect_defects(full)
        sec_mp = (time.perf_counter() - t) / (full.shape[0] * full.shape[1] / 1e6)
        clean = _crop(full)
        for dens, (n_scr, n_spk) in DENSITIES.items():
            rec = prec = gain = 0.0
            for seed in seeds:
                d = add_defects(clean, scratches=n_scr, specks=n_spk, seed=seed)
                m = detect_defects(d.image)
                r, p = scores(m.mask, d.truth)
                fixed = repair_defects(d.image, m)
                rec, prec = rec + r, prec + p
                gain += psnr(fixed, clean) - psnr(d.image, clean)
            k = len(seeds)
            rows.append([label, name, f"{full.shape[1]}x{full.shape[0]}", dens, f"{rec / k:.2f}",
                         f"{prec / k:.2f}", f"{gain / k:+.2f}", f"{false.area_percent:.2f}%",
                         f"{sec_mp:.2f}"])
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> int:
    seeds = (1,) if "--quick" in sys.argv else (1, 2)
    rows = _rows("tuned", _tuned(), seeds) + _rows("held-out", _held_out(), seeds)
    print(machine())
    print(table(["set", "photo", "size", "defects", "recall", "precision", "PSNR gain dB",
                 "clean photo flagged", "s/MP (detect)"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
