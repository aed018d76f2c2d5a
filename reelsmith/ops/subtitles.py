"""Burn subtitles into frames: white text with a dark outline, bottom centre.

Each cue's text is wrapped to 90 % of the frame width (at most three lines), drawn once with
Pillow into an RGBA patch and cached; :meth:`SubtitleBurner.apply` alpha-blends the patch of
the cue showing at a frame's time. Cue times are on the timeline of the frames given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from reelsmith.media.subtitles import Cue


class SubtitleBurner:
    """Draws cue text (white with a dark outline, bottom centre) onto ``width`` x ``height`` frames."""

    def __init__(self, cues: Sequence[Cue], width: int, height: int) -> None:
        self.cues = sorted(cues, key=lambda c: c.start)
        self.w, self.h = width, height
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}

    def _render(self, i: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        from PIL import Image, ImageDraw, ImageFont

        size = max(10, self.h // 16)
        font = ImageFont.load_default(size=size)
        words, lines, cur = self.cues[i].text.split(), [], ""
        probe_draw = ImageDraw.Draw(Image.new("L", (1, 1)))
        for word in words:
            trial = f"{cur} {word}".strip()
            if cur and probe_draw.textlength(trial, font=font) > self.w * 0.9:
                lines.append(cur)
                cur = word
            else:
                cur = trial
        if cur:
            lines.append(cur)
        text = "\n".join(lines[-3:])
        stroke = max(1, size // 10)
        box = probe_draw.multiline_textbbox((0, 0), text, font=font, stroke_width=stroke,
                                            align="center")
        box = tuple(int(math.floor(v)) if n < 2 else int(math.ceil(v)) for n, v in enumerate(box))
        tw, th = box[2] - box[0] + 2, box[3] - box[1] + 2
        tw, th = min(tw, self.w), min(th, self.h)
        layer = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
        ImageDraw.Draw(layer).multiline_text((-box[0] + 1, -box[1] + 1), text, font=font,
                                             fill=(255, 255, 255, 255), stroke_width=stroke,
                                             stroke_fill=(0, 0, 0, 255), align="center")
        arr = np.asarray(layer)
        x = (self.w - tw) // 2
        y = max(0, self.h - th - int(self.h * 0.07))
        return arr[..., :3].astype(np.float32), arr[..., 3:].astype(np.float32) / 255.0, x, y

    def apply(self, img: np.ndarray, t: float) -> np.ndarray:
        """``img`` with the cue showing at time ``t`` drawn on a copy (``img`` itself if none)."""
        for i, c in enumerate(self.cues):
            if c.start <= t < c.end and c.text.strip():
                if i not in self._cache:
                    self._cache[i] = self._render(i)
                rgb, alpha, x, y = self._cache[i]
                h, w = rgb.shape[:2]
                img = img.copy()
                region = img[y:y + h, x:x + w].astype(np.float32)
                img[y:y + h, x:x + w] = (region * (1 - alpha) + rgb * alpha).astype(np.uint8)
                return img
        return img
