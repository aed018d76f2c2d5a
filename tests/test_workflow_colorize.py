"""The colorize workflow end to end: images from JSON hints, a scribbled hint image or a
reference; a grey video with audio; the refusals the issue asks for; the colorize post step;
the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from colorgen import grey_frames, moving_objects, photo, true_hints, write_clip
from skimage.metrics import peak_signal_noise_ratio as psnr

import reelsmith
from reelsmith.errors import InputError
from reelsmith.media.images import read_image, write_image
from reelsmith.media.probe import probe
from reelsmith.media.reader import VideoReader
from reelsmith.ops.chroma import grey_of
from reelsmith.ops.colorize_video import chroma_flicker


def _hints_json(path: Path, img: np.ndarray, fraction: float) -> Path:
    h = true_hints(img, fraction)
    path.write_text(json.dumps({"points": [
        {"x": int(x), "y": int(y), "color": "#" + bytes(img[y, x].tolist()).hex()}
        for x, y in zip(h.xs, h.ys, strict=True)]}))
    return path


@pytest.fixture
def coffee_files(tmp_path):
    img = photo("coffee")
    return img, write_image(tmp_path / "grey.png", grey_of(img)), write_image(tmp_path / "colour.png", img)


def test_json_hints_colour_a_photo(coffee_files, tmp_path):
    img, grey, _ = coffee_files
    hints = _hints_json(tmp_path / "hints.json", img, 0.005)
    r = reelsmith.run("colorize", inputs={"input": grey, "hints": hints}, output=tmp_path / "o.png")
    out, _ = read_image(r.output)
    assert psnr(img, out) > psnr(img, read_image(grey)[0]) + 10  # measured +14.5 dB
    meta = r.metadata
    assert meta["mode"] == "hints" and meta["backend"] == "opencv"
    assert meta["colorizer"]["hint_pixels"] == 1200 and meta["output"]["colourfulness"] > 30


def test_a_scribbled_hint_image_and_a_reference_photo(coffee_files, tmp_path):
    img, grey, colour = coffee_files
    scribbled = read_image(grey)[0].copy()
    cv2.line(scribbled, (100, 100), (300, 120), (200, 40, 40), 5)
    hint_img = write_image(tmp_path / "scribbles.png", scribbled)
    r = reelsmith.run("colorize", inputs={"input": grey, "hints": hint_img}, output=tmp_path / "s.png")
    out, _ = read_image(r.output)
    assert r.metadata["colorizer"]["hint_source"] == "image" and out[110, 200, 0] > out[110, 200, 2] + 30
    ref = write_image(tmp_path / "ref.png", img[:, :350])
    r = reelsmith.run("colorize", inputs={"input": grey, "reference": ref}, output=tmp_path / "r.png")
    assert r.metadata["mode"] == "reference"
    assert psnr(img, read_image(r.output)[0]) > psnr(img, read_image(grey)[0]) + 6


def test_refusals_say_what_to_do(coffee_files, tmp_path):
    img, grey, colour = coffee_files
    out = tmp_path / "x.png"
    cases = [
        ({"input": grey}, {}, "Nothing to take colour from"),
        ({"input": colour}, {"tint": "sepia"}, "already has colour"),
        ({"input": grey, "reference": grey}, {}, "no colour to lend"),
        ({"input": grey, "reference": colour}, {"tint": "sepia"}, "cannot be combined"),
        ({"input": grey, "hints": write_image(tmp_path / "same.png", read_image(grey)[0])}, {},
         "No colour hint"),
    ]
    bad = tmp_path / "far.json"
    bad.write_text(json.dumps({"points": [{"x": 5000, "y": 3, "color": "#ff0000"}]}))
    cases.append(({"input": grey, "hints": bad}, {}, "hint point 1 at (5000, 3) is outside"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    cases.append(({"input": grey, "hints": broken}, {}, "not valid JSON"))
    for inputs, params, words in cases:
        with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
            reelsmith.run("colorize", inputs=inputs, output=out, **params)
    assert not out.exists()
    r = reelsmith.run("colorize", inputs={"input": colour}, output=out, tint="sepia", force=True)
    assert r.metadata["mode"] == "tint:sepia" and out.is_file()


def test_a_grey_video_gets_steady_colour_with_its_audio_and_timing(tmp_path, clip):
    colour = moving_objects(n=30)
    src = write_clip(tmp_path / "grey.mp4", grey_frames(colour), audio_source=clip)
    ref = write_image(tmp_path / "ref.png", colour[0])
    r = reelsmith.run("colorize", inputs={"input": src, "reference": ref},
                      output=tmp_path / "out.mp4", keyframe_every=0.5)
    info = probe(r.output)
    assert info.frame_count == 30 and info.has_audio
    meta = r.metadata["colorize"]
    assert meta["keyframes"] == 4 and meta["frames"] == 30  # frames 0, 12, 24 and the last
    frames = [f.image for f in VideoReader(r.output)]
    assert chroma_flicker(frames) < 1.5  # measured 0.50 (the true colour clip: 1.03, its sharp edges)
    err = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(frames, colour, strict=True)])
    grey_err = np.mean([np.abs(a.astype(int) - b).mean()
                        for a, b in zip(grey_frames(colour), colour, strict=True)])
    assert err < 0.5 * grey_err  # measured 7.6 vs 22.6


def test_the_post_step_colours_another_workflows_output(coffee_files, tmp_path):
    img, grey, _ = coffee_files
    ref = write_image(tmp_path / "ref.png", img[:, :350])
    small = write_image(tmp_path / "small.png", cv2.resize(read_image(grey)[0], (150, 100)))
    r = reelsmith.run("upscale", small, output=tmp_path / "up.png", scale=2, model="builtin",
                      post=[f"colorize,reference={ref}"])
    out, _ = read_image(r.output)
    assert out.shape == (200, 300, 3) and r.metadata["post"][0]["description"]["mode"] == "reference"
    big = cv2.resize(img, (300, 200), interpolation=cv2.INTER_AREA)
    assert psnr(big, out) > psnr(big, grey_of(big)) + 5
    with pytest.raises(InputError, match="does not exist"):
        reelsmith.run("upscale", small, output=tmp_path / "x.png", post=["colorize,hints=/no/such.json"])


def test_cli_colorize_end_to_end(coffee_files, tmp_path):
    img, grey, _ = coffee_files
    hints = _hints_json(tmp_path / "hints.json", img, 0.002)
    out = tmp_path / "cli.png"
    proc = subprocess.run([sys.executable, "-m", "reelsmith.cli", "colorize", str(grey),
                           "--hints", str(hints), "-o", str(out), "--strength", "0.9", "--json"],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["outputs"]["image"] == str(out) and data["metadata"]["mode"] == "hints"
    proc = subprocess.run([sys.executable, "-m", "reelsmith.cli", "colorize", str(grey), "-o",
                           str(tmp_path / "none.png")], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))
    assert proc.returncode == 2 and "Nothing to take colour from" in proc.stderr
    assert "Traceback" not in proc.stderr
