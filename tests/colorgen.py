"""Media for the colorization tests: real colour photos made grey, sparse true-colour hints,
and a clip of coloured objects moving over a textured background (as colour and as grey)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reelsmith.ops.chroma import grey_of
from reelsmith.ops.colorize_hints import Hints


def photo(name: str) -> np.ndarray:
    """A real colour photo from scikit-image (coffee, chelsea, astronaut)."""
    import skimage.data

    return getattr(skimage.data, name)()


def true_hints(image: np.ndarray, fraction: float, seed: int = 0) -> Hints:
    """``fraction`` of the pixels, at random, with their true colours."""
    h, w = image.shape[:2]
    n = max(1, int(fraction * h * w))
    rng = np.random.default_rng(seed)
    flat = rng.choice(h * w, n, replace=False)
    ys, xs = flat // w, flat % w
    return Hints(xs.astype(np.int64), ys.astype(np.int64), image[ys, xs])


def moving_objects(n: int = 24, w: int = 160, h: int = 112, seed: int = 0) -> list[np.ndarray]:
    """``n`` colour frames: a red disc and a green box glide over a blue-grey texture."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.uint8), (0, 0), 3)
    bg = (0.5 * noise + 0.5 * np.array([70, 110, 160])).astype(np.uint8)
    frames = []
    for t in range(n):
        f = bg.copy()
        cv2.circle(f, (20 + 4 * t, 40), 14, (220, 40, 30), -1)
        x = 100 - (3 * t) // 2
        cv2.rectangle(f, (x, 60), (x + 30, 95), (40, 200, 60), -1)
        frames.append(f)
    return frames


def grey_frames(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [grey_of(f) for f in frames]


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 25,
               audio_source: Path | None = None) -> Path:
    """Encode ``frames`` (lossless-ish H.264) with the audio of ``audio_source``."""
    from reelsmith.media.writer import VideoWriter

    h, w = frames[0].shape[:2]
    with VideoWriter(path, width=w, height=h, fps=fps, crf=4,
                     audio_source=str(audio_source) if audio_source else None) as wr:
        for i, f in enumerate(frames):
            wr.write(f, i / fps)
    return Path(path)
