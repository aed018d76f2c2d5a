"""The ``restore_photo`` workflow end to end: defects repaired, the face_restore and upscale
post steps chained, the defect mask saved, 16-bit TIFF/PNG scans kept 16-bit, EXIF orientation
applied, the colorize post step chained from a reference or hints, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from defectgen import add_defects, photo, psnr

import reelsmith
from reelsmith.cli import main
from reelsmith.errors import InputError
from reelsmith.media.images import read_image, write_image

pytest.importorskip("skimage")


@pytest.fixture
def damaged(tmp_path):
    clean = photo("chelsea")
    d = add_defects(clean, scratches=5, specks=30, seed=2)
    return clean, write_image(tmp_path / "old.png", d.image)


def test_repairs_and_chains_face_restore_and_upscale_with_the_mask(tmp_path, damaged):
    clean, src = damaged
    out = tmp_path / "fixed.png"
    r = reelsmith.run("restore_photo", src, output=out, scratches=True, dust=True,
                      faces=True, face_model="builtin",
                      upscale=2, upscale_model="builtin", save_mask=True)
    img, _ = read_image(r.outputs["image"])
    assert img.shape[:2] == (2 * clean.shape[0], 2 * clean.shape[1])
    mask, _ = read_image(r.outputs["mask"])
    assert r.outputs["mask"].name == "fixed_mask.png" and mask.shape[:2] == clean.shape[:2]
    meta = r.metadata
    assert [s["role"] for s in meta["post"]] == ["post.face_restore", "post.upscale"]
    assert meta["defects"]["scratches"] >= 2 and meta["defects"]["specks"] >= 2
    assert (mask[..., 0] > 0).mean() * 100 == pytest.approx(meta["defects"]["area_percent"], abs=0.01)
    assert "post.upscale" in meta["backends"] and "defects" in meta["backends"]


def test_repair_alone_raises_psnr(tmp_path, damaged):
    clean, src = damaged
    r = reelsmith.run("restore_photo", src, output=tmp_path / "fixed.png", denoise=False,
                      scratches=True, dust=True)
    fixed, _ = read_image(r.output)
    assert psnr(fixed, clean) > psnr(read_image(src)[0], clean) + 1.0


@pytest.mark.parametrize("suffix", [".tif", ".png"])
@pytest.mark.parametrize("grey", [False, True])
def test_sixteen_bit_scans_round_trip_and_stay_sixteen_bit(tmp_path, suffix, grey):
    rng = np.random.default_rng(1)
    shape = (48, 64) if grey else (48, 64, 3)
    deep = rng.integers(0, 65536, shape, dtype=np.uint16)
    back, info = read_image(write_image(tmp_path / f"scan{suffix}", deep))
    assert info.bit_depth == 16
    assert np.array_equal(back, deep if not grey else np.repeat(deep[..., None], 3, 2))
    # Damaged, so the repair writes new 16-bit values (a clean photo passes through unchanged).
    worn = add_defects(photo("camera")[::2, ::2], scratches=4, specks=20, seed=3).image
    scan = worn[..., 0].astype(np.uint16) * 257 + 100
    src = write_image(tmp_path / f"photo{suffix}", scan if grey else np.dstack([scan] * 3))
    r = reelsmith.run("restore_photo", src, output=tmp_path / f"out{suffix}", scratches=True)
    out, oinfo = read_image(r.output)
    assert oinfo.bit_depth == 16 and r.metadata["output"]["bit_depth"] == 16
    assert len(np.unique(out)) > 256  # real 16-bit values, not 8-bit ones scaled up
    r = reelsmith.run("restore_photo", src, output=tmp_path / f"big{suffix}", upscale=2,
                      upscale_model="builtin")
    assert r.metadata["output"]["bit_depth"] == 8 and "8-bit" in r.metadata["message"]


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    img = photo("coffee")[:200, :300]
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    src = tmp_path / "turned.jpg"
    Image.fromarray(img).save(src, quality=95, exif=exif.tobytes())
    r = reelsmith.run("restore_photo", src, output=tmp_path / "upright.jpg")
    out, info = read_image(r.output)
    assert out.shape[:2] == (300, 200) and info.exif_orientation == 1
    assert r.metadata["input"]["exif_orientation"] == 6


def test_colorize_chains_with_a_reference_or_hints(tmp_path):
    """An old grey print, damaged: repaired, then coloured by the colorize post step from a
    colour photo of the same scene or from JSON hints; colour comes back (PSNR vs the true
    colour photo well above the grey one's)."""
    import json

    clean = photo("chelsea")
    grey = np.repeat(clean.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    src = write_image(tmp_path / "grey.png", add_defects(grey, scratches=4, specks=20, seed=3).image)
    ref = write_image(tmp_path / "ref.png", clean)
    r = reelsmith.run("restore_photo", inputs={"image": src, "reference": ref},
                      output=tmp_path / "c.png", colorize=True, scratches=True, dust=True)
    out = read_image(r.output)[0]
    assert [s["role"] for s in r.metadata["post"]] == ["post.colorize"]
    assert psnr(out, clean) > psnr(grey, clean) + 4
    ys, xs = np.mgrid[5:clean.shape[0]:12, 5:clean.shape[1]:12]
    hints = {"points": [{"x": int(x), "y": int(y), "color": [int(c) for c in clean[y, x]]}
                        for y, x in zip(ys.ravel(), xs.ravel(), strict=True)]}
    (tmp_path / "hints.json").write_text(json.dumps(hints))
    r = reelsmith.run("restore_photo", inputs={"image": src, "hints": tmp_path / "hints.json"},
                      output=tmp_path / "h.png", colorize=True)
    assert psnr(read_image(r.output)[0], clean) > psnr(grey, clean) + 4


def test_bad_combinations_are_input_errors(tmp_path, damaged):
    _, src = damaged
    with pytest.raises(InputError, match="Nothing to take colour from"):
        reelsmith.run("restore_photo", src, output=tmp_path / "c.png", colorize=True)
    with pytest.raises(InputError, match="colorize"):
        reelsmith.run("restore_photo", inputs={"image": src, "reference": src},
                      output=tmp_path / "c.png")
    with pytest.raises(InputError, match="upscale"):
        reelsmith.run("restore_photo", src, output=tmp_path / "c.png", upscale=3)
    assert not (tmp_path / "c.png").exists()


def test_cli_end_to_end(tmp_path, damaged, capsys):
    _, src = damaged
    out = tmp_path / "cli.png"
    rc = main(["restore-photo", str(src), "-o", str(out), "--scratches", "--dust", "--no-denoise", "--save-mask",
               "--upscale", "2", "--upscale-model", "builtin"])
    text = capsys.readouterr().out
    assert rc == 0 and out.is_file() and (tmp_path / "cli_mask.png").is_file()
    assert "scratches" in text and "upscale:2" in text
    rc = main(["restore-photo", str(src), "-o", str(tmp_path / "x.png"), "--colorize"])
    assert rc == 2 and "colorize" in capsys.readouterr().err


def test_defaults_leave_a_clean_photo_alone(tmp_path):
    clean = photo("camera")[::2, ::2]
    r = reelsmith.run("restore_photo", write_image(tmp_path / "clean.png", clean),
                      output=tmp_path / "same.png")
    assert np.array_equal(read_image(r.output)[0], clean)
    assert r.metadata["steps"] == [] and "unchanged" in r.metadata["message"]
