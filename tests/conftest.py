from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mediagen import make_video  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Each test gets its own data dir and fresh settings."""
    from reelsmith.config import reset_settings

    monkeypatch.setenv("REELSMITH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REELSMITH_OUTPUT_DIR", str(tmp_path / "volume"))
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir) -> Path:
    """2 s, 160x96, 25 fps, H.264 + AAC tone."""
    return make_video(media_dir / "clip.mp4")


@pytest.fixture(scope="session")
def clip_with_cut(media_dir) -> Path:
    return make_video(media_dir / "cut.mp4", seconds=2.0, cuts=(1.0,))


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """Real Redis and PostgreSQL (see jobs_services), one pair per test module."""
    from jobs_services import Services

    svc = Services(tmp_path_factory.mktemp("services"))
    try:
        svc.start()
        yield svc
    finally:
        svc.stop()
