"""Turn a source frame into a vertical (9:16) output frame: crop or blurred padding.

The geometry comes from :mod:`reelsmith.ops.crop_geometry`; where a ``follow`` crop sits is
the caller's choice (an offset along the crop axis, e.g. from
:class:`reelsmith.analysis.subject_track.SubjectTracker`), so this module only moves pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from reelsmith.ops.crop_geometry import cover_box, fit_box, vertical_size


class Reframer:
    """Frames of ``src_w`` x ``src_h`` -> frames of :attr:`out` for a vertical ``mode``.

    Raises :class:`InputError` for an unknown mode (see :func:`vertical_size`).
    """

    def __init__(self, src_w: int, src_h: int, mode: str) -> None:
        self.mode = mode
        self.src = (src_w, src_h)
        self.out = vertical_size(src_w, src_h, mode)

    @property
    def crops(self) -> bool:
        """True when frames are cropped (a window that can move) rather than kept or padded."""
        return self.mode in ("center", "follow") and self.out != self.src

    def apply(self, img: np.ndarray, offset: int | None = None) -> np.ndarray:
        """The output frame; ``offset`` places a crop window along its axis (None: centred)."""
        sw, sh = self.src
        ow, oh = self.out
        if self.mode == "off":
            return img
        if self.mode == "blur-pad":
            return _blur_pad(img, ow, oh)
        if (ow, oh) == (sw, sh):
            return img
        if ow < sw:
            x = offset if offset is not None else (sw - ow) // 2
            return np.ascontiguousarray(img[:oh, x:x + ow])
        y = offset if offset is not None else (sh - oh) // 2
        return np.ascontiguousarray(img[y:y + oh, :ow])


def _blur_pad(img: np.ndarray, ow: int, oh: int) -> np.ndarray:
    """The whole frame, fitted and centred over a blurred, darkened copy that fills the canvas."""
    h, w = img.shape[:2]
    x, y, cw, ch = cover_box(w, h, ow, oh)
    bg = cv2.resize(img[y:y + ch, x:x + cw], (ow, oh), interpolation=cv2.INTER_AREA)
    small = cv2.resize(bg, (max(2, ow // 8), max(2, oh // 8)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 3)
    bg = (cv2.resize(small, (ow, oh), interpolation=cv2.INTER_LINEAR) * 0.6).astype(np.uint8)
    x, y, fw, fh, s = fit_box(w, h, ow, oh)
    fg = cv2.resize(img, (fw, fh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    bg[y:y + fh, x:x + fw] = fg
    return bg
