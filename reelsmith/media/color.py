"""Colour metadata: carried from input to output, never silently changed.

Decoding converts YUV to RGB with the source's own matrix and range (falling back to
FFmpeg's convention when untagged: BT.709 for HD and larger, BT.601 below), and encoding
converts back with the same matrix and tags the output stream with matrix, range,
primaries and transfer, so players show the colours the input had.
"""

from __future__ import annotations

from dataclasses import dataclass

# AVColorSpace / AVColorRange / AVColorPrimaries / AVColorTransferCharacteristic values.
UNSPECIFIED = 2
SPACE_BT709 = 1
SPACE_BT470BG = 5
SPACE_SMPTE170M = 6
SPACE_BT2020_NCL = 9
RANGE_MPEG = 1  # limited / tv
RANGE_JPEG = 2  # full / pc

_SPACE_NAMES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc",
                10: "bt2020c", 0: "rgb", 2: "unknown"}
_PRIM_NAMES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020", 2: "unknown", 4: "bt470m"}
_TRC_NAMES = {1: "bt709", 6: "smpte170m", 13: "iec61966-2-1", 14: "bt2020-10", 16: "smpte2084",
              18: "arib-std-b67", 2: "unknown", 4: "gamma22", 5: "gamma28"}

# Matrix used by swscale for a given AVColorSpace (swscale knows 709, 601, 240M, 2020, FCC).
_SWS_SPACE = {1: 1, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9, 4: 4}


@dataclass(frozen=True)
class ColorInfo:
    """AV* enum values, as FFmpeg stores them on frames and codec contexts."""

    matrix: int = UNSPECIFIED
    range: int = 0  # 0 = unspecified
    primaries: int = UNSPECIFIED
    transfer: int = UNSPECIFIED

    def describe(self) -> dict[str, str]:
        return {
            "matrix": _SPACE_NAMES.get(self.matrix, str(self.matrix)),
            "range": {1: "tv", 2: "pc"}.get(self.range, "unknown"),
            "primaries": _PRIM_NAMES.get(self.primaries, str(self.primaries)),
            "transfer": _TRC_NAMES.get(self.transfer, str(self.transfer)),
        }


def effective_matrix(color: ColorInfo, height: int) -> int:
    """The swscale matrix to use for YUV<->RGB (FFmpeg's size-based guess when untagged)."""
    if color.matrix in _SWS_SPACE:
        return _SWS_SPACE[color.matrix]
    return SPACE_BT709 if height >= 720 else SPACE_BT470BG


def effective_range(color: ColorInfo, pix_fmt: str = "") -> int:
    if color.range in (RANGE_MPEG, RANGE_JPEG):
        return color.range
    return RANGE_JPEG if pix_fmt.startswith("yuvj") else RANGE_MPEG


def output_color(color: ColorInfo, height: int) -> ColorInfo:
    """What the encoder should tag: the input's values, with the guessed matrix made explicit.

    Untagged input stays untagged in primaries/transfer (we do not invent them), but the
    matrix we used is written so that players do not guess differently at a new size (an
    upscale from 576p to 1080p would otherwise flip a player from BT.601 to BT.709).
    """
    matrix = color.matrix if color.matrix != UNSPECIFIED else effective_matrix(color, height)
    if matrix == SPACE_BT470BG and color.matrix == UNSPECIFIED:
        matrix = SPACE_SMPTE170M
    rng = color.range if color.range in (RANGE_MPEG, RANGE_JPEG) else RANGE_MPEG
    return ColorInfo(matrix=matrix, range=rng, primaries=color.primaries, transfer=color.transfer)
