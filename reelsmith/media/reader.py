"""Decode a video into RGB :class:`Frame` objects, streaming (one frame in memory at a time).

Pixels come out upright: the display matrix a phone writes (``MediaInfo.rotation``) is
applied here, once. YUV is converted with the stream's own matrix and range (per frame
when the bitstream says, else the container's tags, else FFmpeg's size-based guess), so
BT.601 material is not decoded as BT.709 or the other way round.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import av
import numpy as np

from reelsmith.errors import ProcessingError, UnsupportedMediaError
from reelsmith.media.color import UNSPECIFIED, ColorInfo, effective_matrix, effective_range
from reelsmith.media.frame import Frame
from reelsmith.media.probe import MediaInfo, open_container, probe

MAX_BAD_PACKETS = 200


def apply_rotation(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate pixels counter-clockwise by ``rotation`` degrees (a multiple of 90)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


class VideoReader:
    """Iterate frames of the first video stream.

    ``keep_depth``: decode >8-bit sources to uint16 RGB (rgb48) instead of uint8.
    A still image (``info.kind == "image"``) yields one frame at time 0, EXIF-oriented.
    ``size``: optional display (width, height) to scale to while converting (cheap analysis decode).
    ``keep_alpha``: still images only: keep a 4th (alpha) channel when there is one.
    ``rotate``: turn the pixels upright according to the display matrix (default).

    ``Frame.time`` is seconds from the video stream's first frame (``info.start_time``),
    taken from each frame's own timestamp, so variable frame rates survive.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        keep_depth: bool = False,
        size: tuple[int, int] | None = None,
        rotate: bool = True,
        threads: int = 0,
        info: MediaInfo | None = None,
        keep_alpha: bool = False,
    ) -> None:
        self.path = str(path)
        self.info = info or probe(path)
        self.keep_depth = keep_depth and self.info.bit_depth > 8
        self.size = size
        self.rotate = rotate
        self.threads = threads
        self.keep_alpha = keep_alpha

    @property
    def dtype(self) -> type:
        return np.uint16 if self.keep_depth else np.uint8

    def __iter__(self) -> Iterator[Frame]:
        if self.info.kind == "image":
            yield self._image_frame()
            return
        info = self.info
        fmt = "rgb48le" if self.keep_depth else "rgb24"
        name = os.path.basename(self.path)
        with open_container(self.path) as container:
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            if self.threads:
                vs.codec_context.thread_count = self.threads
            tb = vs.time_base
            start = vs.start_time
            fps = float(info.fps) if info.fps else 25.0
            index = 0
            errors = 0
            last_time = -1.0

            try:
                for packet in container.demux(vs):
                    try:
                        decoded = vs.decode(packet)
                    except av.InvalidDataError as exc:
                        # A damaged packet: skip it like players do, unless nothing works.
                        errors += 1
                        if errors > MAX_BAD_PACKETS or (index == 0 and errors > 8):
                            raise UnsupportedMediaError(
                                f"The video {name} is corrupt and could not be decoded ({exc})."
                            ) from None
                        continue
                    for vf in decoded:
                        if start is None and vf.pts is not None:
                            start = vf.pts
                        if vf.pts is not None and tb is not None:
                            t = float((vf.pts - (start or 0)) * tb)
                        else:
                            t = index / fps
                        if t <= last_time:  # broken/duplicate timestamps: keep order monotonic
                            t = last_time + 1e-6
                        last_time = t
                        yield Frame(frame_to_rgb(vf, self.info, fmt=fmt, size=self.size,
                                                 rotate=self.rotate), t, index)
                        index += 1
            except av.FFmpegError as exc:
                if index == 0:
                    raise UnsupportedMediaError(
                        f"The video {name} could not be decoded ({exc})."
                    ) from None
                raise ProcessingError(
                    f"Decoding {name} failed after {index} frames ({exc})."
                ) from None
            if index == 0:
                raise UnsupportedMediaError(f"The video {name} contains no decodable frame.")

    def _image_frame(self) -> Frame:
        from reelsmith.media.images import read_image

        img, _ = read_image(self.path, orient=self.rotate)
        if img.ndim == 3 and img.shape[2] == 4 and not self.keep_alpha:
            img = np.ascontiguousarray(img[:, :, :3])
        if img.dtype == np.uint16 and not self.keep_depth:
            img = (img.astype(np.uint32) * 255 + 32767) // 65535
            img = img.astype(np.uint8)
        elif img.dtype == np.uint8 and self.keep_depth:
            img = img.astype(np.uint16) * 257
        if self.size:
            import cv2

            img = cv2.resize(img, tuple(self.size), interpolation=cv2.INTER_AREA)
        return Frame(img, 0.0, 0)



def frame_to_rgb(vf: av.VideoFrame, info: MediaInfo, *, fmt: str = "rgb24",
                 size: tuple[int, int] | None = None, rotate: bool = True) -> np.ndarray:
    """One decoded frame as an RGB array (``rgb24`` or ``rgb48le``), upright.

    YUV and grey frames are converted with the frame's own matrix and range (falling back to
    the container's tags, see :func:`frame_color`); ``size`` is an optional display-oriented
    (width, height) to scale to while converting.
    """
    w, h = (size if size else (vf.width, vf.height))
    if size and info.rotation % 180 != 0:
        w, h = h, w  # size is given in display orientation
    pix = vf.format.name
    if pix.startswith(("yuv", "nv", "p0", "p2")) or pix.startswith("gray"):
        color = frame_color(vf, info.color)
        out = vf.reformat(
            width=w, height=h, format=fmt,
            src_colorspace=effective_matrix(color, vf.height),
            src_color_range=effective_range(color, pix),
            dst_color_range=2,
            interpolation="AREA" if size else None,
        )
    else:
        out = vf.reformat(width=w, height=h, format=fmt,
                          interpolation="AREA" if size else None)
    img = out.to_ndarray()
    if rotate and info.rotation:
        img = apply_rotation(img, info.rotation)
    return img


def frame_color(vf: av.VideoFrame, fallback: ColorInfo) -> ColorInfo:
    """The frame's own colour tags where it has them, else the container's."""
    matrix = int(vf.colorspace)
    rng = int(vf.color_range)
    return ColorInfo(
        matrix=matrix if matrix not in (UNSPECIFIED, 0) or fallback.matrix == UNSPECIFIED
        else fallback.matrix,
        range=rng if rng in (1, 2) else fallback.range,
        primaries=fallback.primaries,
        transfer=fallback.transfer,
    )


def read_frames(path: str | os.PathLike, **kwargs) -> Iterator[Frame]:
    """Convenience: ``for frame in read_frames("in.mp4"): ...``."""
    return iter(VideoReader(path, **kwargs))
