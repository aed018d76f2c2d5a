"""Colorization quality and speed: hint colorization (PSNR/SSIM against the true colour photo,
with the grey photo as the baseline) at 1% and 0.1% true-colour hints and seconds per megapixel;
reference transfer from a same-scene and from an unrelated colour photo; video chroma flicker
with and without propagation along optical flow, on a real clip made grey and on a synthetic one.

Photos: scikit-image's (astronaut, chelsea, coffee) and, when ``../shared/data`` is present,
kodim03 and rommel.jpg (7 MP); one more row times a 12 MP photo (rommel resized).

Usage: python benchmarks/colorize.py [--frames 100] [--only hints|reference|video]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
from _common import machine, read_frames, shared, table
from colorgen import grey_frames, moving_objects, photo, true_hints
from skimage.metrics import peak_signal_noise_ratio as psnr
from skimage.metrics import structural_similarity as ssim

from reelsmith.media.frame import Frame
from reelsmith.media.images import read_image
from reelsmith.ops.chroma import grey_of, residual_chroma
from reelsmith.ops.colorize_hints import colorize_with_hints
from reelsmith.ops.colorize_reference import colorize_from_reference, reference_chroma
from reelsmith.ops.colorize_video import ColorizeStage, chroma_flicker


def _photos() -> list[tuple[str, np.ndarray]]:
    out = [(n, photo(n)) for n in ("astronaut", "chelsea", "coffee")]
    for name in ("kodim03.png", "rommel.jpg"):
        p = shared("images", name)
        if p is not None:
            out.append((name.split(".")[0], read_image(p)[0][..., :3]))
    return out


def _q(ref: np.ndarray, img: np.ndarray) -> str:
    return f"{psnr(ref, img):.1f} / {ssim(ref, img, channel_axis=2):.3f}"


def hints_table() -> str:
    rows = []
    for name, img in _photos():
        grey = grey_of(img)
        row = [name, f"{img.shape[1]}x{img.shape[0]}", _q(img, grey)]
        secs = 0.0
        for fraction in (0.01, 0.001):
            h = true_hints(img, fraction)
            t = time.perf_counter()
            out = colorize_with_hints(grey, h)
            secs = time.perf_counter() - t
            row.append(_q(img, out))
        mp = img.shape[0] * img.shape[1] / 1e6
        rows.append(row + [f"{secs:.2f}", f"{secs / mp:.2f}"])
    big = shared("images", "rommel.jpg")
    if big is not None:
        img = cv2.resize(read_image(big)[0][..., :3], (4000, 3000), interpolation=cv2.INTER_CUBIC)
        grey = grey_of(img)
        h = true_hints(img, 0.001)
        t = time.perf_counter()
        colorize_with_hints(grey, h)
        secs = time.perf_counter() - t
        rows.append(["rommel, resized", "4000x3000", "-", "-", "-", f"{secs:.2f}", f"{secs / 12:.2f}"])
    return table(["photo", "size", "grey PSNR / SSIM", "1% hints", "0.1% hints",
                  "seconds (0.1%)", "s / MP"], rows)


def reference_table() -> str:
    rows = []
    photos = _photos()
    for i, (name, img) in enumerate(photos):
        w = img.shape[1]
        ref, target = img[:, : int(0.6 * w)], img[:, int(0.4 * w):]
        grey = grey_of(target)
        other_name, other = photos[(i + 1) % len(photos)]
        t = time.perf_counter()
        same = colorize_from_reference(grey, ref)
        secs = time.perf_counter() - t
        unrelated = colorize_from_reference(grey, other)
        rows.append([name, _q(target, grey), _q(target, same), f"{_q(target, unrelated)} ({other_name})",
                     f"{secs:.2f}"])
    return table(["photo (right 60%)", "grey PSNR / SSIM", "same scene (left 60%)",
                  "unrelated reference", "seconds"], rows)


def _run(stage: ColorizeStage, frames: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    out = []
    t = time.perf_counter()
    for i, f in enumerate(frames):
        out += stage.process(Frame(f.copy(), i / 25))
    out += stage.flush()
    return [f.image for f in out], time.perf_counter() - t


def video_table(n_frames: int) -> str:
    clips = [("synthetic 160x112", moving_objects(n=60))]
    p = shared("video", "bikes.mp4")
    if p is not None:
        clips.append(("bikes.mp4 640x272", read_frames(p, limit=n_frames)))
    rows = []
    for name, colour in clips:
        grey = grey_frames(colour)
        ref = max(colour[::10], key=residual_chroma)  # the most colourful frame (bikes fades in)

        def key(frame, index, ref=ref):
            return reference_chroma(frame, ref)

        base = chroma_flicker(colour)
        for label, stage in (("per frame (no propagation)", ColorizeStage(key, propagate=False)),
                             ("keyframes every 1 s + flow", ColorizeStage(key, keyframe_every=25)),
                             ("cuts only + flow", ColorizeStage(key))):
            out, secs = _run(stage, grey)
            err = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(out, colour, strict=True)])
            rows.append([name, label, f"{chroma_flicker(out):.3f}", f"{base:.3f}", f"{err:.1f}",
                         f"{len(out) / secs:.1f}"])
    return table(["clip (made grey)", "colour", "chroma flicker", "true clip's flicker",
                  "mean abs error vs truth", "fps"], rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--only", choices=["hints", "reference", "video"])
    args = ap.parse_args()
    print(f"Machine: {machine()}\n")
    if args.only in (None, "hints"):
        print("Hint colorization (true colours at random pixels): PSNR dB / SSIM vs the colour "
              "photo\n")
        print(hints_table(), "\n")
    if args.only in (None, "reference"):
        print("Reference transfer: PSNR dB / SSIM vs the colour photo\n")
        print(reference_table(), "\n")
    if args.only in (None, "video"):
        print("Video: chroma flicker = mean |a*b* - previous a*b* warped along flow| (Lab units)\n")
        print(video_table(args.frames))


if __name__ == "__main__":
    main()
