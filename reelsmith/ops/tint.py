"""Explicit monochrome looks for a black-and-white picture: sepia, cyanotype, selenium, warm and
cool tone. These are not colourisation -- every pixel gets a chroma chosen by its luminance
only, as a darkroom toner does -- and are offered as such (``--tint``), never as a silent
stand-in for colour.

A toner is two a*/b* points, one for the shadows and one for the highlights; a pixel's chroma
is interpolated by its L* and fades towards pure white and black, as toned paper does.
"""

from __future__ import annotations

import numpy as np

from reelsmith.errors import InputError
from reelsmith.ops.chroma import check_rgb, from_lab, to_lab

#: name -> ((a, b) in the shadows, (a, b) in the highlights), Lab units.
TINTS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "sepia": ((9.0, 16.0), (4.0, 14.0)),
    "cyanotype": ((-4.0, -30.0), (-6.0, -14.0)),
    "selenium": ((8.0, -3.0), (3.0, 3.0)),
    "warm": ((3.0, 8.0), (1.0, 6.0)),
    "cool": ((-2.0, -8.0), (-1.0, -5.0)),
}


def tint_chroma(luma: np.ndarray, name: str) -> np.ndarray:
    """HxWx2 a*/b* of the toner ``name`` for the L* plane ``luma``."""
    try:
        (a0, b0), (a1, b1) = TINTS[name]
    except KeyError:
        raise InputError(f"Unknown tint {name!r}; one of {', '.join(TINTS)}.") from None
    t = np.clip(luma / 100.0, 0.0, 1.0)[..., None]
    fade = np.clip(np.minimum(t, 1.0 - t) * 5.0, 0.0, 1.0)  # paper white and full black stay neutral
    lo, hi = np.array([a0, b0], np.float32), np.array([a1, b1], np.float32)
    return ((lo * (1.0 - t) + hi * t) * fade).astype(np.float32)


def apply_tint(image: np.ndarray, name: str, *, strength: float = 1.0) -> np.ndarray:
    """``image`` (RGB uint8/uint16) as a toned monochrome print of the given ``name``."""
    check_rgb(image)
    lab = to_lab(image)
    lab[..., 1:] = tint_chroma(lab[..., 0], name) * strength
    return from_lab(lab, image.dtype)
