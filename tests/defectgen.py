"""Synthetic defects on real photos, with their ground truth: scratches (long thin bright or
dark lines, straight or gently curved, 1-4 px wide, any orientation but mostly near-vertical as
on film) and dust (small bright or dark specks, 1-6 px across), drawn the way they look on a
scanned print or a film frame: a partial blend toward a light or dark tone whose strength and
tone vary per defect (0.35-0.9 of the way; no two defects alike), with edges softened by a
sub-pixel blur. The truth is every pixel the damage changed by at least 12/255.
Used by the scratch tests and the restore benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Defects:
    image: np.ndarray  # the damaged photo, same dtype as the clean one
    truth: np.ndarray  # bool HxW: pixels the defects changed visibly
    scratches: int
    specks: int


def photo(name: str) -> np.ndarray:
    """A scikit-image photo (camera, astronaut, coffee, chelsea ...) as HxWx3 uint8 RGB."""
    import skimage.data

    im = getattr(skimage.data, name)()
    return np.ascontiguousarray(np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im[..., :3])


def add_defects(clean: np.ndarray, *, scratches: int = 6, specks: int = 40, seed: int = 0) -> Defects:
    """``clean`` (HxWx3 uint8) with ``scratches`` lines and ``specks`` dust spots drawn on it."""
    rng = np.random.default_rng(seed)
    h, w = clean.shape[:2]
    alpha = np.zeros((h, w), np.float32)  # blend weight of the damage, 0..1
    tone = np.zeros((h, w), np.float32)  # the tone it blends toward

    def paint(one: np.ndarray) -> None:
        light = rng.random() < 0.55
        a = one * rng.uniform(0.35, 0.9)
        t = rng.uniform(215, 250) if light else rng.uniform(5, 45)
        take = a > alpha
        alpha[take], tone[take] = a[take], t

    for _ in range(scratches):
        width = int(rng.integers(1, 5))
        length = rng.uniform(0.3, 0.9) * min(h, w)
        angle = rng.uniform(-0.35, 0.35) + (np.pi / 2 if rng.random() < 0.6 else rng.uniform(0, np.pi))
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        bend = rng.uniform(-0.08, 0.08) * length  # a gentle curve through the middle
        t = np.linspace(-0.5, 0.5, 24)
        xs = cx + t * length * np.cos(angle) - bend * (1 - 4 * t * t) * np.sin(angle)
        ys = cy + t * length * np.sin(angle) + bend * (1 - 4 * t * t) * np.cos(angle)
        pts = (np.stack([xs, ys], 1) * 16).round().astype(np.int32)  # 4 fractional bits
        one = np.zeros((h, w), np.float32)
        cv2.polylines(one, [pts], False, 1.0, thickness=width, lineType=cv2.LINE_AA, shift=4)
        paint(cv2.GaussianBlur(one, (0, 0), rng.uniform(0.4, 0.8)))
    for _ in range(specks):
        diameter = rng.uniform(1.0, 6.0)
        x, y = rng.uniform(5, w - 5), rng.uniform(5, h - 5)
        one = np.zeros((h, w), np.float32)
        cv2.circle(one, (int(x * 16), int(y * 16)), int(diameter * 8), 1.0, -1,
                   lineType=cv2.LINE_AA, shift=4)
        one = cv2.GaussianBlur(one, (0, 0), rng.uniform(0.4, 0.8))
        paint(np.minimum(one / max(float(one.max()), 1e-6), 1.0))
    img = clean.astype(np.float32)
    a = alpha[..., None]
    out = img * (1 - a) + tone[..., None] * a
    damaged = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    diff = np.abs(damaged.astype(np.int16) - clean.astype(np.int16)).max(axis=2)
    return Defects(damaged, diff >= 12, scratches, specks)


def scores(found: np.ndarray, truth: np.ndarray, *, tolerance: int = 2) -> tuple[float, float]:
    """(recall, precision) of a found mask against the truth: recall counts truth pixels that
    were found; precision counts found pixels within ``tolerance`` px of a true defect (a
    repair mask is a little wider than the defect on purpose)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1,) * 2)
    near = cv2.dilate(truth.astype(np.uint8), k) > 0
    recall = float((found & truth).sum() / max(truth.sum(), 1))
    precision = float((found & near).sum() / max(found.sum(), 1))
    return recall, precision


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    peak = 65535.0 if a.dtype == np.uint16 else 255.0
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(peak * peak / mse)
