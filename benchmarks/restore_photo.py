"""Scratch and dust removal on real photos with synthetic defects at three densities: pixel
recall and precision of the detected mask, PSNR of the damaged and the repaired photo against
the clean one, the repaired share of a CLEAN photo (false defects), and seconds per megapixel.

Photos: scikit-image's camera, astronaut, coffee, chelsea and, when ../shared/data/images is
present, einstein.png (grey) and kodim03.png. Prints a markdown table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, shared, table  # noqa: E402
from defectgen import add_defects, photo, psnr, scores  # noqa: E402

from reelsmith.media.images import read_image  # noqa: E402
from reelsmith.ops.scratches import detect_defects, repair_defects  # noqa: E402

DENSITIES = {"light": (3, 15), "medium": (6, 40), "heavy": (12, 100)}


def _photos() -> dict:
    out = {n: photo(n) for n in ("camera", "astronaut", "coffee", "chelsea")}
    folder = shared("images")
    if folder is not None:
        for name in ("einstein.png", "kodim03.png"):
            if (folder / name).is_file():
                out[name.split(".")[0]] = read_image(folder / name)[0][..., :3]
    return out


def main() -> int:
    rows = []
    for name, clean in _photos().items():
        t = time.perf_counter()
        false = detect_defects(clean)
        sec_mp = (time.perf_counter() - t) / (clean.shape[0] * clean.shape[1] / 1e6)
        for dens, (n_scr, n_spk) in DENSITIES.items():
            rec = prec = gain = 0.0
            seeds = (1, 2, 3)
            for seed in seeds:
                d = add_defects(clean, scratches=n_scr, specks=n_spk, seed=seed)
                m = detect_defects(d.image)
                r, p = scores(m.mask, d.truth)
                fixed = repair_defects(d.image, m)
                rec, prec = rec + r, prec + p
                gain += psnr(fixed, clean) - psnr(d.image, clean)
            k = len(seeds)
            rows.append([name, f"{clean.shape[1]}x{clean.shape[0]}", dens, f"{rec / k:.2f}",
                         f"{prec / k:.2f}", f"{gain / k:+.2f}", f"{false.area_percent:.2f}%",
                         f"{sec_mp:.2f}"])
    print(machine())
    print(table(["photo", "size", "defects", "recall", "precision", "PSNR gain dB",
                 "clean photo flagged", "s/MP (detect)"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
