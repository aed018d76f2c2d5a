"""Hostile and odd inputs for the input-safety tests (crafted headers, frame bombs)."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png_bomb(path: Path, width: int, height: int, rows: int = 1) -> Path:
    """A PNG whose header claims ``width`` x ``height`` but carries only ``rows`` rows of
    pixel data: a few hundred bytes that would decode to width*height pixels."""
    raw = (b"\x00" + b"\x00" * width) * rows
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(raw, 9))
        + _png_chunk(b"IEND", b"")
    )
    Path(path).write_bytes(data)
    return Path(path)


def make_frame_bomb(path: Path, frames: int = 100_000, fps: int = 1000, size: int = 16) -> Path:
    """A tiny-picture video with very many frames, written by repeating one intra packet
    (fast: no encoding per frame)."""
    tb = Fraction(1, fps)
    with av.open(str(path), "w") as out:
        s = out.add_stream("mjpeg", rate=fps)
        s.width = s.height = size
        s.pix_fmt = "yuvj420p"
        s.time_base = tb
        s.codec_context.time_base = tb
        frame = av.VideoFrame.from_ndarray(np.zeros((size, size, 3), np.uint8), format="rgb24")
        frame = frame.reformat(format="yuvj420p")
        frame.pts = 0
        payload = bytes(next(iter(s.encode(frame))))
        for i in range(frames):
            pkt = av.Packet(payload)
            pkt.stream = s
            pkt.pts = pkt.dts = i
            pkt.duration = 1
            pkt.time_base = tb
            out.mux(pkt)
    return Path(path)
