"""Decode a video into RGB :class:`Frame` objects, streaming (one frame in memory at a time)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import av
import numpy as np

from reelsmith.errors import ProcessingError, UnsupportedMediaError
from reelsmith.media.color import effective_matrix, effective_range
from reelsmith.media.frame import Frame
from reelsmith.media.probe import MediaInfo, open_container, probe


def apply_rotation(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate pixels counter-clockwise by ``rotation`` degrees (a multiple of 90)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


class VideoReader:
    """Iterate frames of the first video stream.

    ``keep_depth``: decode >8-bit sources to uint16 RGB (rgb48) instead of uint8.
    ``size``: optional (width, height) to scale to while converting (cheap analysis decode).
    ``apply_rotation``: turn the pixels upright according to the display matrix.
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
    ) -> None:
        self.path = str(path)
        self.info = info or probe(path)
        self.keep_depth = keep_depth and self.info.bit_depth > 8
        self.size = size
        self.rotate = rotate
        self.threads = threads

    @property
    def dtype(self) -> type:
        return np.uint16 if self.keep_depth else np.uint8

    def __iter__(self) -> Iterator[Frame]:
        info = self.info
        fmt = "rgb48le" if self.keep_depth else "rgb24"
        try:
            container = open_container(self.path)
        except UnsupportedMediaError:
            raise
        with container:
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            if self.threads:
                vs.codec_context.thread_count = self.threads
            tb = vs.time_base
            start = vs.start_time if vs.start_time is not None else None
            fps = float(info.fps) if info.fps else 25.0
            index = 0
            last_time = -1.0
            try:
                for vf in container.decode(vs):
                    if start is None and vf.pts is not None:
                        start = vf.pts
                    if vf.pts is not None and tb is not None:
                        t = float((vf.pts - (start or 0)) * tb)
                    else:
                        t = index / fps
                    if t <= last_time:  # broken/duplicate timestamps: keep order monotonic
                        t = last_time + 1e-6
                    last_time = t
                    yield Frame(self._to_rgb(vf, fmt), t, index)
                    index += 1
            except av.FFmpegError as exc:
                if index == 0:
                    raise UnsupportedMediaError(
                        f"The video {os.path.basename(self.path)} could not be decoded ({exc})."
                    ) from None
                raise ProcessingError(
                    f"Decoding {os.path.basename(self.path)} failed after {index} frames ({exc})."
                ) from None

    def _to_rgb(self, vf: av.VideoFrame, fmt: str) -> np.ndarray:
        info = self.info
        w, h = (self.size if self.size else (vf.width, vf.height))
        if self.size and info.rotation % 180 != 0:
            w, h = h, w  # size is given in display orientation
        pix = vf.format.name
        if pix.startswith(("yuv", "nv", "p0", "p2")) or pix.startswith("gray"):
            out = vf.reformat(
                width=w, height=h, format=fmt,
                src_colorspace=effective_matrix(info.color, vf.height),
                src_color_range=effective_range(info.color, pix),
                interpolation="AREA" if self.size else None,
            )
        else:
            out = vf.reformat(width=w, height=h, format=fmt,
                              interpolation="AREA" if self.size else None)
        img = out.to_ndarray()
        if self.rotate and info.rotation:
            img = apply_rotation(img, info.rotation)
        return img


def read_frames(path: str | os.PathLike, **kwargs) -> Iterator[Frame]:
    """Convenience: ``for frame in read_frames("in.mp4"): ...``."""
    return iter(VideoReader(path, **kwargs))
