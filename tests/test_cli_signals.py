"""SIGTERM stops a CLI run like Ctrl-C: exit 143 and no half-written file left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jobs_testkit import wait_for

from mediagen import make_image, make_video

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """Long enough (20 s at 320x180) that a 2x upscale still runs when the signal comes."""
    return make_video(tmp_path_factory.mktemp("sig") / "long.mp4", width=320, height=180,
                      seconds=20.0, audio=False)


@pytest.fixture(scope="module")
def big_image(tmp_path_factory) -> Path:
    """Large enough that saving the 3x PNG takes a few seconds (the signal lands mid-save)."""
    return make_image(tmp_path_factory.mktemp("sigimg") / "big.png", 1600, 1200)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_encode_leaves_no_partial_file(long_clip, tmp_path, sig, code):
    _interrupt_upscale(long_clip, tmp_path / "out", "out.mp4", 2, sig, code)


def test_sigterm_mid_image_save_leaves_no_partial_file(big_image, tmp_path):
    _interrupt_upscale(big_image, tmp_path / "out", "out.png", 3, signal.SIGTERM, 143)


def _interrupt_upscale(src: Path, out_dir: Path, name: str, scale: int, sig: int,
                       code: int) -> None:
    out_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "reelsmith.cli", "upscale", str(src),
                             "-o", str(out_dir / name), "--scale", str(scale), "-q"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def partial_appeared() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the CLI ended before the signal: {proc.stderr.read()}")
            return any(".partial" in p.name for p in out_dir.iterdir())

        wait_for(partial_appeared, timeout=60, interval=0.02)
        time.sleep(0.2)  # well inside the encode / the save
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == code, err
    assert list(out_dir.iterdir()) == []
    assert "Traceback" not in err and err.strip().startswith("reelsmith: ")


def test_discard_pending_removes_temp_files_a_writer_left(tmp_path):
    """The last-resort sweep the CLI runs on SIGTERM/Ctrl-C (e.g. an image save cut short)."""
    from reelsmith.media.atomic import commit, discard, discard_pending, temp_path_for

    discard_pending()  # whatever earlier tests in this process left registered
    done = temp_path_for(tmp_path / "a.png")
    done.write_bytes(b"1")
    commit(done, tmp_path / "a.png", fsync=False)
    dropped = temp_path_for(tmp_path / "c.png")
    dropped.write_bytes(b"x")
    discard(dropped)
    cut = temp_path_for(tmp_path / "b.png")
    cut.write_bytes(b"half")
    assert discard_pending() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
