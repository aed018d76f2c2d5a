"""The unit of work that flows through the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class Frame:
    """Pixels plus timing.

    ``image`` is HxWxC RGB (C=3, or 4 with alpha for still images), ``uint8`` for 8-bit
    sources and ``uint16`` (full 0..65535 scale) when a high-bit-depth source is decoded
    with its depth kept. ``time`` is the presentation time in seconds from the start of
    the video stream; ``index`` counts frames in display order from 0.
    ``source`` tells how the frame came to be: "decoded", "interpolated", "repeated".
    """

    image: np.ndarray
    time: float
    index: int = 0
    duration: float | None = None
    source: str = "decoded"
    extra: dict = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
