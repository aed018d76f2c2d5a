"""The command-line face, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mediagen import make_image
from reelsmith.media.probe import probe


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "reelsmith.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env)


def test_upscale_video_json(clip, tmp_path):
    out = tmp_path / "up.mp4"
    proc = cli("upscale", str(clip), "-o", str(out), "--scale", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["outputs"]["video"] == str(out)
    assert data["metadata"]["output"]["width"] == probe(clip).width * 2
    assert probe(out).has_audio


def test_upscale_to_height_and_default_output_name(clip, tmp_path):
    src = tmp_path / "in.mp4"
    src.write_bytes(clip.read_bytes())
    proc = cli("upscale", str(src), "--height", "192", "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    out = tmp_path / "in_upscale.mp4"
    info = probe(out)
    assert (info.width, info.height) == (320, 192)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp"])
def test_upscale_image_keeps_format(tmp_path, ext):
    src = make_image(tmp_path / f"pic{ext}", 40, 30, alpha=ext != ".jpg")
    out = tmp_path / f"big{ext}"
    proc = cli("upscale", str(src), "-o", str(out), "--scale", "3")
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    with Image.open(out) as im:
        assert im.size == (120, 90)
        assert im.format == {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}[ext]
        if ext != ".jpg":
            assert im.mode == "RGBA"
            alpha = np.asarray(im)[..., 3]
            assert alpha[:, 0].mean() < 40 and alpha[:, -1].mean() > 215


def test_interpolate_cli(clip, tmp_path):
    out = tmp_path / "smooth.mp4"
    proc = cli("interpolate", str(clip), "-o", str(out), "--fps", "60")
    assert proc.returncode == 0, proc.stderr
    info = probe(out)
    assert float(info.fps) == pytest.approx(60)
    assert info.frame_count == 120
    assert "interpolate" in proc.stdout and "backend" in proc.stdout


def test_run_generic_with_params(clip, tmp_path):
    out = tmp_path / "r.mp4"
    proc = cli("run", "upscale_and_interpolation", str(clip), "-o", str(out),
               "--param", "scale=2", "--param", "multiplier=3", "--json")
    assert proc.returncode == 0, proc.stderr
    info = probe(out)
    assert info.frame_count == probe(clip).frame_count * 3
    assert info.width == probe(clip).width * 2


def test_workflows_lists_parameters():
    proc = cli("workflows")
    assert proc.returncode == 0
    for name in ("upscale", "interpolate", "upscale_and_interpolation"):
        assert name + ":" in proc.stdout
    assert "--param scale=" in proc.stdout
    data = json.loads(cli("workflows", "--json").stdout)
    assert {"upscale", "interpolate"} <= {w["name"] for w in data}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["upscale", "/no/such/file.mp4"], "does not exist"),
        (["upscale", "{clip}", "--scale", "0"], "scale"),
        (["run", "sharpen_everything", "{clip}"], "unknown workflow"),
        (["interpolate", "{clip}", "--param", "multiplier=1"], "multiplier"),
        (["upscale", "{clip}", "-o", "/no/such/dir/out.mp4"], "does not exist"),
        (["upscale", "{clip}", "--codec", "divx"], "codec"),
        (["upscale", "{notmedia}"], "not"),
    ],
)
def test_errors_are_one_sentence_with_exit_2(args, needle, clip, tmp_path):
    notmedia = tmp_path / "x.mp4"
    notmedia.write_text("hello")
    args = [a.format(clip=clip, notmedia=notmedia) for a in args]
    proc = cli(*args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert needle in proc.stderr.lower()
    assert not list(tmp_path.glob("*.partial*"))
