"""Still images: EXIF orientation, alpha, 16-bit, formats, atomic writes, probe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mediagen_extra import corner_colors, marker_image
from PIL import Image

from mediagen import make_image, pattern, psnr
from reelsmith.errors import InputError, ProcessingError, UnsupportedMediaError
from reelsmith.media import VideoReader, apply_orientation, probe, read_image, write_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"


def _jpeg_with_orientation(path: Path, img: np.ndarray, orientation: int) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(img).save(path, quality=95, exif=exif.tobytes(), subsampling=0)
    return path


# How a viewer shows the stored marker picture (red TL, green TR, blue BL) per EXIF tag.
EXPECTED = {
    1: {"tl": "r", "tr": "g", "bl": "b", "br": "-"},
    2: {"tl": "g", "tr": "r", "bl": "-", "br": "b"},  # mirrored left-right
    3: {"tl": "-", "tr": "b", "bl": "g", "br": "r"},  # 180
    4: {"tl": "b", "tr": "-", "bl": "r", "br": "g"},  # mirrored top-bottom
    5: {"tl": "r", "tr": "b", "bl": "g", "br": "-"},  # transposed
    6: {"tl": "b", "tr": "r", "bl": "-", "br": "g"},  # turned 90 clockwise
    7: {"tl": "-", "tr": "g", "bl": "b", "br": "r"},  # transverse
    8: {"tl": "g", "tr": "-", "bl": "r", "br": "b"},  # turned 90 counter-clockwise
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied(tmp_path, orientation):
    p = _jpeg_with_orientation(tmp_path / f"o{orientation}.jpg", marker_image(64, 32),
                               orientation)
    img, info = read_image(p)
    assert info.exif_orientation == orientation
    swapped = orientation >= 5
    assert img.shape == ((64, 32, 3) if swapped else (32, 64, 3))
    assert (info.width, info.height) == (img.shape[1], img.shape[0])
    assert corner_colors(img) == EXPECTED[orientation]
    # Pillow's own transpose agrees with ours.
    from PIL import ImageOps

    with Image.open(p) as im:
        ref = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    assert np.array_equal(img, ref)
    # probe knows the display size without decoding.
    meta = probe(p)
    assert meta.kind == "image" and meta.exif_orientation == orientation
    assert meta.display_size == (img.shape[1], img.shape[0])


def test_orientation_not_applied_twice(tmp_path):
    p = _jpeg_with_orientation(tmp_path / "in.jpg", marker_image(64, 32), 6)
    img, _ = read_image(p)
    out = write_image(tmp_path / "out.jpg", img)
    again, info = read_image(out)
    assert info.exif_orientation == 1
    assert again.shape == img.shape
    assert corner_colors(again) == EXPECTED[6]
    raw, _ = read_image(p, orient=False)
    assert corner_colors(raw) == EXPECTED[1]


def test_real_rotated_photo_if_present():
    p = SHARED / "rommel.jpg"
    if not p.exists():
        pytest.skip("shared data not present")
    meta = probe(p)
    assert meta.kind == "image" and meta.exif_orientation == 6
    img, info = read_image(p)
    assert img.shape[:2] == (meta.display_size[1], meta.display_size[0])
    assert img.shape[0] > img.shape[1]  # stored landscape, shown portrait


@pytest.mark.parametrize("suffix", [".png", ".webp"])
def test_alpha_kept(tmp_path, suffix):
    src = make_image(tmp_path / "a.png", 40, 30, alpha=True)
    arr, info = read_image(src)
    assert arr.shape == (30, 40, 4) and info.has_alpha
    out = write_image(tmp_path / f"b{suffix}", arr, quality=100)
    back, binfo = read_image(out)
    assert back.shape == (30, 40, 4) and binfo.has_alpha
    assert np.array_equal(back[:, :, 3], arr[:, :, 3])
    assert psnr(back[:, :, :3], arr[:, :, :3]) > 45
    assert probe(out).has_alpha


def test_alpha_dropped_for_jpeg(tmp_path):
    arr, _ = read_image(make_image(tmp_path / "a.png", 40, 30, alpha=True))
    out = write_image(tmp_path / "c.jpg", arr, quality=95)
    back, info = read_image(out)
    assert back.shape == (30, 40, 3) and not info.has_alpha
    assert psnr(back, arr[:, :, :3]) > 30


def test_sixteen_bit_png_round_trip(tmp_path):
    deep = (np.random.default_rng(1).integers(0, 65536, (20, 24, 3))).astype(np.uint16)
    out = write_image(tmp_path / "d.png", deep)
    back, info = read_image(out)
    assert back.dtype == np.uint16 and info.bit_depth == 16
    assert np.array_equal(back, deep)
    assert probe(out).bit_depth == 16
    # 16-bit data into an 8-bit format is scaled, not truncated.
    j = write_image(tmp_path / "d.webp", deep, quality=100)
    b8, _ = read_image(j)
    assert b8.dtype == np.uint8
    assert np.abs(b8.astype(int) - (deep.astype(int) * 255 // 65535)).max() <= 1
    # VideoReader on a 16-bit image gives 8-bit unless asked.
    assert next(iter(VideoReader(out))).image.dtype == np.uint8
    assert next(iter(VideoReader(out, keep_depth=True))).image.dtype == np.uint16


@pytest.mark.parametrize("suffix,fmt", [(".png", "png"), (".jpg", "mjpeg"),
                                        (".jpeg", "mjpeg"), (".webp", "webp")])
def test_formats_and_probe(tmp_path, suffix, fmt):
    img = pattern(48, 32, 0.2)
    out = write_image(tmp_path / f"x{suffix}", img)
    meta = probe(out)
    assert meta.kind == "image" and meta.codec == fmt
    assert (meta.width, meta.height) == (48, 32) and meta.frame_count == 1
    back, _ = read_image(out)
    assert psnr(back, img) >= (99 if suffix == ".png" else 28)
    frames = list(VideoReader(out))
    assert len(frames) == 1 and frames[0].image.shape == (32, 48, 3)


def test_grayscale_and_palette_images(tmp_path):
    g = tmp_path / "g.png"
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(g)
    arr, info = read_image(g)
    assert arr.shape == (8, 8, 3) and not info.has_alpha
    assert np.array_equal(arr[:, :, 0], arr[:, :, 2])
    pal = tmp_path / "p.png"
    Image.fromarray(pattern(16, 16, 0)).convert("P").save(pal)
    assert read_image(pal)[0].shape == (16, 16, 3)


def test_write_is_atomic_and_validates(tmp_path):
    img = pattern(16, 16, 0)
    with pytest.raises(InputError, match="use one of"):
        write_image(tmp_path / "x.gif", img)
    with pytest.raises(InputError, match="does not exist"):
        write_image(tmp_path / "no" / "x.png", img)
    with pytest.raises(ProcessingError, match="expected"):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InputError, match="quality"):
        write_image(tmp_path / "x.jpg", img, quality=0)
    assert list(tmp_path.iterdir()) == []
    out = write_image(tmp_path / "x.png", img)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    # Overwrite in place: still one file, new content.
    write_image(out, img[::-1])
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    assert np.array_equal(read_image(out)[0], img[::-1])


def test_read_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(InputError, match="directory"):
        read_image(tmp_path)
    empty = tmp_path / "e.png"
    empty.write_bytes(b"")
    with pytest.raises(UnsupportedMediaError, match="empty"):
        read_image(empty)
    txt = tmp_path / "t.jpg"
    txt.write_text("not an image")
    with pytest.raises(UnsupportedMediaError, match="not an image"):
        read_image(txt)
    good = write_image(tmp_path / "ok.png", pattern(64, 64, 0))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(UnsupportedMediaError, match="corrupt or truncated"):
        read_image(cut)


def test_apply_orientation_matches_numpy_rotations():
    a = marker_image(8, 4)
    assert np.array_equal(apply_orientation(a, 6), np.rot90(a, -1))
    assert np.array_equal(apply_orientation(a, 8), np.rot90(a, 1))
    assert np.array_equal(apply_orientation(a, 1), a)
