"""Still images: read (EXIF-oriented, alpha kept) and write (atomically).

``read_image`` returns pixels the way a viewer shows them: the EXIF Orientation tag is
applied once here and the returned :class:`ImageInfo` says which it was. ``write_image``
never writes an Orientation tag, so the pixels it saves are not rotated a second time.

Arrays are HxWx3 (RGB) or HxWx4 (RGBA), ``uint8``; 16-bit PNGs and TIFFs (RGB or grey, the
scans archives make) read as ``uint16`` (full 0..65535 scale) and ``uint16`` arrays are written
as 16-bit PNG or TIFF, bit-exact. OpenCV reads and writes the 16-bit ones: Pillow reduces
16-bit RGB to 8 bits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelsmith.errors import InputError, ProcessingError, UnsupportedMediaError
from reelsmith.media.atomic import commit, discard, temp_path_for

WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP",
                 ".tif": "TIFF", ".tiff": "TIFF"}
_READ_FORMATS = {"PNG", "JPEG", "MPO", "WEBP", "BMP", "TIFF", "GIF"}


@dataclass(frozen=True)
class ImageInfo:
    """What ``read_image`` found. ``width``/``height`` are of the returned (oriented) array."""

    width: int
    height: int
    channels: int  # 3 or 4
    has_alpha: bool
    bit_depth: int  # 8 or 16
    format: str  # "png", "jpeg", "webp", ...
    exif_orientation: int = 1  # the tag in the file; already applied to the pixels
    icc_profile: bytes | None = None


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF Orientation (1..8) to an HxWxC array, giving display orientation."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],  # mirror horizontally
        3: lambda a: a[::-1, ::-1],  # rotate 180
        4: lambda a: a[::-1, :],  # mirror vertically
        5: lambda a: a.swapaxes(0, 1),  # transpose
        6: lambda a: np.rot90(a, -1),  # rotate 90 clockwise
        7: lambda a: np.rot90(a, 2).swapaxes(0, 1),  # transverse
        8: lambda a: np.rot90(a, 1),  # rotate 90 counter-clockwise
    }
    return np.ascontiguousarray(ops.get(orientation, ops[1])(image))


def read_image(path: str | os.PathLike, *, orient: bool = True) -> tuple[np.ndarray, ImageInfo]:
    """Read a PNG/JPEG/WebP/BMP/TIFF image as RGB(A), EXIF orientation applied.

    Raises :class:`InputError` (missing file, directory) or
    :class:`UnsupportedMediaError` (empty, not an image, corrupt).
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise InputError(f"The input file {p} does not exist.")
    if p.is_dir():
        raise InputError(f"The input {p} is a directory, not an image.")
    if p.stat().st_size == 0:
        raise UnsupportedMediaError(f"The input file {p.name} is empty.")
    try:
        with Image.open(p) as im:
            fmt = im.format or ""
            if fmt not in _READ_FORMATS:
                raise UnsupportedMediaError(f"The file {p.name} is not a supported image ({fmt}).")
            try:
                orientation = int(im.getexif().get(0x0112, 1) or 1)
            except Exception:  # noqa: BLE001 - unreadable EXIF: upright
                orientation = 1
            if orientation not in range(1, 9):
                orientation = 1
            icc = im.info.get("icc_profile")
            arr = _pixels(p, im, fmt)
    except UnidentifiedImageError:
        raise UnsupportedMediaError(f"The file {p.name} is not an image that can be read.") from None
    except Image.DecompressionBombError:
        raise UnsupportedMediaError(
            f"The image {p.name} is too large to open safely (decompression bomb guard)."
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedMediaError(f"The image {p.name} is corrupt or truncated ({exc}).") from None
    if orient:
        arr = apply_orientation(arr, orientation)
    h, w, c = arr.shape
    info = ImageInfo(
        width=w, height=h, channels=c, has_alpha=c == 4,
        bit_depth=16 if arr.dtype == np.uint16 else 8, format=fmt.lower().replace("mpo", "jpeg"),
        exif_orientation=orientation, icc_profile=icc,
    )
    return arr, info


def _pixels(p: Path, im, fmt: str) -> np.ndarray:
    """Decoded pixels as HxWx3|4, not yet oriented."""
    if (fmt == "PNG" and _png_is_16bit(p)) or (fmt == "TIFF" and _tiff_is_16bit(im)):
        arr = _read_png16(p)
        if arr is not None:
            return arr
    im.load()
    mode = im.mode
    alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in im.info
    )
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.uint32 if mode == "I" else np.uint16)
        a = np.clip(a, 0, 65535).astype(np.uint16)
        return np.repeat(a[:, :, None], 3, axis=2)
    if mode == "CMYK" or mode == "YCbCr" or mode == "LAB" or not alpha:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    return np.asarray(im.convert("RGBA"), dtype=np.uint8).copy()


def _png_is_16bit(p: Path) -> bool:
    with open(p, "rb") as fh:
        head = fh.read(26)
    return len(head) >= 25 and head[12:16] == b"IHDR" and head[24] == 16


def _tiff_is_16bit(im) -> bool:
    bits = im.tag_v2.get(258) if hasattr(im, "tag_v2") else None  # BitsPerSample
    if isinstance(bits, tuple | list):
        bits = bits[0] if bits else None
    return bits == 16 or im.mode.startswith("I;16")


def _read_png16(p: Path) -> np.ndarray | None:
    """16-bit PNG or TIFF at full depth (Pillow reduces 16-bit RGB to 8-bit; OpenCV does not)."""
    import cv2

    data = np.fromfile(p, dtype=np.uint8)
    a = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if a is None or a.dtype != np.uint16:
        return None
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 2:  # gray + alpha
        g, al = a[:, :, 0], a[:, :, 1]
        return np.stack([g, g, g, al], axis=2)
    if a.shape[2] == 4:
        return np.ascontiguousarray(a[:, :, [2, 1, 0, 3]])
    return np.ascontiguousarray(a[:, :, ::-1])


def write_image(path: str | os.PathLike, image: np.ndarray, *, quality: int | None = None,
                icc_profile: bytes | None = None) -> Path:
    """Write ``image`` (HxW, HxWx3 or HxWx4; uint8 or uint16) atomically; format from suffix.

    PNG and TIFF keep alpha and 16 bits (a 16-bit grey picture is written as grey); WebP
    keeps alpha (8-bit); JPEG drops alpha (the colour
    channels are written as they are). ``quality`` (1..100) applies to JPEG (default 95)
    and WebP (default 95; 100 means lossless). No EXIF Orientation is written: the pixels
    are already upright. Returns the final path.
    """
    from PIL import Image

    p = Path(path)
    fmt = WRITE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InputError(
            f"Cannot write an image to {p.name}: use one of {', '.join(sorted(WRITE_FORMATS))}."
        )
    if not p.parent.exists():
        raise InputError(f"The output folder {p.parent} does not exist.")
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.dtype not in (np.uint8, np.uint16):
        raise ProcessingError(
            f"Cannot write an image of shape {arr.shape} and type {arr.dtype}; "
            "expected HxWx3 or HxWx4 uint8/uint16."
        )
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if fmt == "JPEG" and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if quality is not None and not 1 <= int(quality) <= 100:
        raise InputError("Image quality must be between 1 and 100.")
    tmp = temp_path_for(p)
    try:
        if arr.dtype == np.uint16 and fmt in ("PNG", "TIFF"):
            _write_png16(tmp, arr, ".png" if fmt == "PNG" else ".tiff")
        else:
            if arr.dtype == np.uint16:
                arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
            mode = "RGBA" if arr.shape[2] == 4 else "RGB"
            im = Image.fromarray(np.ascontiguousarray(arr), mode)
            kwargs: dict = {}
            if icc_profile:
                kwargs["icc_profile"] = icc_profile
            if fmt == "JPEG":
                kwargs.update(quality=int(quality or 95), subsampling=0 if (quality or 95) >= 90
                              else 2, optimize=True)
            elif fmt == "WEBP":
                q = int(quality or 95)
                # exact: keep the colour under fully transparent pixels (alpha edits).
                kwargs.update(quality=q, lossless=q >= 100, method=4, exact=True)
            elif fmt == "PNG":
                kwargs.update(compress_level=6)
            elif fmt == "TIFF":
                kwargs.update(compression="tiff_deflate")
            im.save(tmp, format=fmt, **kwargs)
        return commit(tmp, p)
    except Exception as exc:
        discard(tmp)
        if isinstance(exc, InputError | ProcessingError):
            raise
        raise ProcessingError(f"Writing the image {p.name} failed ({exc}).") from None


def _write_png16(tmp: Path, arr: np.ndarray, ext: str = ".png") -> None:
    """A 16-bit PNG or TIFF (``ext``); a grey picture (three equal channels) is written grey."""
    import cv2

    if arr.shape[2] == 3 and np.array_equal(arr[:, :, 0], arr[:, :, 1]) \
            and np.array_equal(arr[:, :, 0], arr[:, :, 2]):
        bgr = arr[:, :, 0]
    else:
        bgr = arr[:, :, [2, 1, 0, 3]] if arr.shape[2] == 4 else arr[:, :, ::-1]
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(bgr))
    if not ok:
        raise ProcessingError(f"Encoding a 16-bit {ext[1:].upper()} failed.")
    with open(tmp, "wb") as fh:
        fh.write(buf.tobytes())
