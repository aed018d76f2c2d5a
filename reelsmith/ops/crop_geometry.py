"""Crop-window maths for vertical (9:16) output: sizes, offsets and boxes, no pixels.

Pure functions on integers and floats, so the arithmetic that decides what part of a frame
a reel shows can be read and tested on its own. ``ops/reframe.py`` applies these to pixels;
``analysis/subject_track.py`` says where the subject is.

Modes: ``off`` keeps the frame; ``center`` crops a 9:16 window from the middle;
``follow`` crops the same window, placed on the tracked subject; ``blur-pad`` fits the
whole frame into a 9:16 canvas over a blurred, darkened copy of itself.
"""

from __future__ import annotations

import math

from reelsmith.errors import InputError

VERTICAL_MODES = ("off", "center", "blur-pad", "follow")
VERTICAL_ASPECT = 9 / 16


def even(x: float) -> int:
    """``x`` rounded to an even number, at least 2 (4:2:0 video needs even sizes)."""
    return max(2, int(round(x / 2)) * 2)


def vertical_size(width: int, height: int, mode: str) -> tuple[int, int]:
    """Output (w, h) for a vertical mode; the input size when ``mode`` is "off".

    Raises :class:`InputError` for a mode not in :data:`VERTICAL_MODES`.
    """
    if mode not in VERTICAL_MODES:
        raise InputError(f"Unknown vertical mode {mode!r}; use one of {', '.join(VERTICAL_MODES)}.")
    if mode == "off":
        return width, height
    if mode == "blur-pad":
        if width / height >= VERTICAL_ASPECT:
            w = even(min(width, height))
            return w, even(w / VERTICAL_ASPECT)
        return even(height * VERTICAL_ASPECT), even(height)
    if width / height > VERTICAL_ASPECT:  # crop the sides
        return min(even(height * VERTICAL_ASPECT), width - width % 2), height - height % 2
    return width - width % 2, min(even(width / VERTICAL_ASPECT), height - height % 2)


def crop_axis(src: tuple[int, int], out: tuple[int, int]) -> str:
    """The axis a crop window of size ``out`` moves along in a frame of size ``src``:
    "x" when it is narrower than the frame, else "y"."""
    return "x" if out[0] < src[0] else "y"


def window_offset(centre: float, window: int, span: int) -> int:
    """Start of a ``window``-long crop centred on ``centre``, kept inside [0, ``span``]."""
    return int(round(min(max(centre - window / 2, 0), span - window)))


def cover_box(width: int, height: int, out_w: int, out_h: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the centred part of a ``width`` x ``height`` frame that, scaled,
    covers ``out_w`` x ``out_h`` exactly (same aspect as the output)."""
    s = max(out_w / width, out_h / height)
    cw, ch = min(width, math.ceil(out_w / s)), min(height, math.ceil(out_h / s))
    return (width - cw) // 2, (height - ch) // 2, cw, ch


def fit_box(width: int, height: int, out_w: int, out_h: int) -> tuple[int, int, int, int, float]:
    """(x, y, w, h, scale): a ``width`` x ``height`` frame scaled to fit inside
    ``out_w`` x ``out_h``, centred."""
    s = min(out_w / width, out_h / height)
    fw, fh = max(1, round(width * s)), max(1, round(height * s))
    return (out_w - fw) // 2, (out_h - fh) // 2, fw, fh, s
