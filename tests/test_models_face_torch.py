"""A spandrel-loadable GFPGAN (the real architecture and state-dict layout, random weights)
through the face restorer path."""

from __future__ import annotations

import time

import numpy as np
import pytest
from modelgen import random_image, save_random_gfpgan

from reelsmith.config import reset_settings
from reelsmith.errors import ModelError
from reelsmith.models import select_face_restorer

pytest.importorskip("spandrel")


def test_random_gfpgan_loads_by_path_and_restores_a_512_crop(tmp_path, monkeypatch):
    monkeypatch.setenv("REELSMITH_MODELS", str(tmp_path / "models"))
    monkeypatch.delenv("REELSMITH_LICENSE_PROFILE", raising=False)
    reset_settings()
    path = save_random_gfpgan(tmp_path / "GFPGANv1.4.pth")
    restorer = select_face_restorer(str(path), device="cpu")
    assert restorer.size == 512 and restorer.template == "ffhq"
    d = restorer.model.descriptor
    assert d.architecture == "GFPGAN" and d.fixed_size == (512, 512) and not d.supports_tiling
    assert d.extra["input_norm"] == "-1,1"
    assert restorer.describe()["licence"]["commercial"] == "unknown"  # the catalog's GFPGANv1.4
    crop = random_image(512, 512, seed=2)
    t0 = time.perf_counter()
    out = restorer.restore(crop)
    print(f"random GFPGAN (full size) restore: {(time.perf_counter() - t0) * 1000:.0f} ms per 512 crop")
    assert out.shape == (512, 512, 3) and out.dtype == np.uint8
    assert out.std() > 0  # a real network output, not a constant
    with pytest.raises(ModelError, match="fidelity"):
        select_face_restorer(str(path), fidelity=0.7, device="cpu")
    reset_settings()
