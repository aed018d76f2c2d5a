"""Face restorers, swappers, embedders and parsers through the real loading paths, with tiny
graphs that have the real I/O contracts (tests/modelgen.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from modelgen import (
    make_arcface_onnx,
    make_bisenet_onnx,
    make_gpen_onnx,
    make_inswapper_onnx,
    make_sr_onnx,
    random_image,
)

from reelsmith.analysis.faces.parsing import select_parser
from reelsmith.config import reset_settings
from reelsmith.errors import InputError, ModelError
from reelsmith.models import select_face_restorer, select_face_swapper, select_model
from reelsmith.models.face_swappers import arcface_128_points


@pytest.fixture
def models(tmp_path, monkeypatch):
    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setenv("REELSMITH_MODELS", str(root))
    monkeypatch.delenv("REELSMITH_LICENSE_PROFILE", raising=False)
    reset_settings()
    yield root
    reset_settings()


def _expected_abs(crop: np.ndarray) -> np.ndarray:
    x = crop.astype(np.float64) / 255.0
    return np.rint((np.abs(2 * x - 1) + 1) / 2 * 255).astype(np.uint8)


def test_gpen_onnx_restorer_uses_the_minus1_1_contract_and_fixed_size(models):
    make_gpen_onnx(models / "gpen_bfr_512.onnx", size=64)  # catalog file name: GPEN-BFR-512
    restorer = select_face_restorer("auto")
    assert restorer is not None and restorer.name == "GPEN-BFR-512"
    assert restorer.size == 64 and restorer.template == "ffhq"
    crop = random_image(64, 64, seed=3)
    t0 = time.perf_counter()
    out = restorer.restore(crop)
    print(f"tiny GPEN restore: {(time.perf_counter() - t0) * 1000:.1f} ms per 64 px crop")
    assert out.shape == crop.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - _expected_abs(crop)).max() <= 1
    info = restorer.describe()
    assert info["input_norm"]["input_norm"] == "-1,1"
    assert info["input_norm"]["decided_by"] == "catalog"
    assert info["licence"]["commercial"] is False
    # another crop size is resized to the model's and back
    assert restorer.restore(random_image(128, 128, seed=4)).shape == (128, 128, 3)


def test_unknown_restorer_graph_by_path_gets_the_face_restore_default(models, tmp_path):
    path = make_gpen_onnx(tmp_path / "my_restorer.onnx", size=32)
    restorer = select_face_restorer(str(path))
    assert restorer.describe()["input_norm"]["decided_by"] == "default for face_restore"
    crop = random_image(32, 32, seed=5)
    assert np.abs(restorer.restore(crop).astype(int) - _expected_abs(crop)).max() <= 1


def test_codeformer_onnx_weight_input_follows_fidelity(models, tmp_path):
    path = make_gpen_onnx(tmp_path / "codeformer_like.onnx", size=32, weight=True)
    crop = random_image(32, 32, seed=6)
    faithful = select_face_restorer(str(path), fidelity=1.0)
    assert np.abs(faithful.restore(crop).astype(int) - crop).max() <= 1  # output = input
    flat = select_face_restorer(str(path), fidelity=0.0)
    assert np.all(np.abs(flat.restore(crop).astype(int) - 128) <= 1)  # [-1,1] zero: grey
    assert flat.describe()["fidelity"] == 0.0
    with pytest.raises(ModelError, match="fidelity"):
        select_face_restorer(str(make_gpen_onnx(tmp_path / "plain.onnx", size=32)), fidelity=0.5)


def test_upscaler_given_to_face_restore_is_refused_naming_both(models, tmp_path):
    path = make_sr_onnx(tmp_path / "x2.onnx", scale=2)
    with pytest.raises(ModelError, match="'x2' is a upscale model; it cannot be used to face_restore"):
        select_face_restorer(str(path))
    swap = make_inswapper_onnx(tmp_path / "swapper.onnx")
    with pytest.raises(ModelError, match="face_swap model .*; it cannot be used to face_restore"):
        select_face_restorer(str(swap))


def test_inswapper_shaped_graph_swaps_with_its_emap(models):
    make_inswapper_onnx(models / "inswapper_128.onnx")
    swapper = select_face_swapper("auto")
    assert swapper is not None and swapper.name == "inswapper_128"
    assert (swapper.size, swapper.output_size, swapper.template) == (128, 128, "arcface_128")
    assert swapper.emap is not None and swapper.emap.shape == (512, 512)
    rng = np.random.default_rng(0)
    e1, e2 = rng.standard_normal(512), rng.standard_normal(512)
    latent = swapper.latent(e1)
    assert latent.shape == (1, 512) and abs(np.linalg.norm(latent) - 1) < 1e-5
    want = (e1 / np.linalg.norm(e1)) @ swapper.emap
    assert np.allclose(latent[0], want / np.linalg.norm(want), atol=1e-5)
    crop = random_image(128, 128, seed=7)
    t0 = time.perf_counter()
    a = swapper.swap(crop, e1)
    print(f"tiny inswapper swap: {(time.perf_counter() - t0) * 1000:.1f} ms per 128 px crop")
    b = swapper.swap(crop, e2)
    assert a.shape == crop.shape and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1  # the identity matters
    with pytest.raises(InputError, match="512-value"):
        swapper.swap(crop, np.ones(128))
    # the 128 template is ArcFace's 112 points shifted 8 px right (InsightFace estimate_norm)
    assert np.allclose(arcface_128_points(128)[0], [38.2946 + 8, 51.6963])
    assert np.allclose(swapper.template_points(256), arcface_128_points(128) * 2)


@pytest.mark.parametrize("boost", [256, 512])
def test_pixel_boost_returns_the_boosted_size_and_is_exact_for_an_identity_model(models, boost):
    make_inswapper_onnx(models / "inswapper_128.onnx", identity=True)
    swapper = select_face_swapper("inswapper_128", pixel_boost=boost)
    assert swapper.output_size == boost and swapper.boost == boost // 128
    crop = random_image(boost, boost, seed=8)
    out = swapper.swap(crop, np.ones(512))
    assert out.shape == (boost, boost, 3)
    assert np.array_equal(out, crop)


def test_impossible_pixel_boost_is_an_input_error(models):
    make_inswapper_onnx(models / "inswapper_128.onnx")
    with pytest.raises(InputError, match="Pixel boost 300"):
        select_face_swapper("auto", pixel_boost=300)


def test_licence_profile_refuses_named_allows_any_and_auto_skips(models, monkeypatch):
    make_inswapper_onnx(models / "inswapper_128.onnx")
    monkeypatch.setenv("REELSMITH_LICENSE_PROFILE", "commercial")
    reset_settings()
    with pytest.raises(ModelError, match=r"The model 'inswapper_128' \(InsightFace model licence"
                                         r".*REELSMITH_LICENSE_PROFILE=commercial"):
        select_face_swapper("inswapper_128")
    assert select_face_swapper("auto") is None
    assert select_model("auto", "face_swap") is None
    monkeypatch.setenv("REELSMITH_LICENSE_PROFILE", "any")
    reset_settings()
    assert select_face_swapper("inswapper_128") is not None


def test_unrecorded_file_has_unknown_licence(models, tmp_path, monkeypatch):
    path = make_gpen_onnx(tmp_path / "mystery.onnx", size=32)
    monkeypatch.setenv("REELSMITH_LICENSE_PROFILE", "commercial")
    reset_settings()
    with pytest.raises(ModelError, match="does not clearly allow commercial use"):
        select_face_restorer(str(path))


def test_arcface_graph_is_an_embedding_model(models):
    make_arcface_onnx(models / "w600k_r50.onnx")
    model = select_model("auto", "face_embed")
    assert model is not None and model.name == "w600k_r50"
    assert model.embedding_size == 512 and model.descriptor.fixed_size == (112, 112)
    x = np.random.default_rng(1).random((2, 3, 112, 112), dtype=np.float32)
    y = model(x)
    assert y.shape == (2, 512)
    assert np.allclose(np.linalg.norm(y, axis=1), 1, atol=1e-5)
    with pytest.raises(InputError, match="112x112"):
        model(np.zeros((1, 3, 100, 100), np.float32))


def test_bisenet_graph_parses_into_19_labels(models):
    make_bisenet_onnx(models / "bisenet_resnet_18.onnx")
    parser = select_parser("auto")
    assert parser is not None and parser.name == "bisenet_face_parsing"
    assert parser.describe()["input_norm"]["input_norm"] == "imagenet"
    crop = random_image(512, 512, seed=9)
    labels = parser.parse(crop)
    assert labels.shape == (512, 512) and labels.dtype == np.uint8
    assert labels.max() <= 18 and len(np.unique(labels)) > 1
    small = parser.parse(random_image(256, 256, seed=9))
    assert small.shape == (256, 256)
    assert select_parser("builtin") is None


def test_nothing_installed_means_builtin(models):
    assert select_face_restorer("auto") is None
    assert select_face_swapper("auto") is None
    assert select_parser("auto") is None
    assert select_face_restorer("builtin") is None
