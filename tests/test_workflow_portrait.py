"""portrait end to end on real photos (scikit-image's astronaut and cameraman): the builtin
compositor through the workflow, several ranked results, the Faces post steps, bad inputs,
the CLI and the RunPod worker contract. The diffusers backend with tiny random pipelines is
in ``test_workflow_portrait_diffusion.py``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import reelsmith
from mediagen import psnr
from reelsmith.cli import main
from reelsmith.config import reset_settings
from reelsmith.errors import InputError, ModelError
from reelsmith.media.images import read_image, write_image
from reelsmith.workflows.backends import backend_metadata_problems

data = pytest.importorskip("skimage.data")
facephotos = pytest.importorskip("facephotos")


@pytest.fixture(autouse=True)
def empty_models_dir(tmp_path, monkeypatch):
    """No diffusion weights: auto runs the builtin compositor."""
    monkeypatch.setenv("REELSMITH_MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    facephotos.dlib_or_skip()
    d = tmp_path_factory.mktemp("portrait")
    camera = np.dstack([data.camera()] * 3)
    small = cv2.resize(data.astronaut(), (176, 176), interpolation=cv2.INTER_AREA)  # a ~36 px face
    two = np.zeros((512, 1024, 3), np.uint8)
    two[:, :512], two[:, 512:] = data.astronaut(), data.astronaut()[:, ::-1]
    return {"astronaut": write_image(d / "astronaut.png", data.astronaut()),
            "camera": write_image(d / "camera.png", camera),
            "coffee": write_image(d / "coffee.png", data.coffee()),
            "small_face": write_image(d / "small.png", small),
            "two": write_image(d / "two.png", two)}


def test_builtin_count_three_ranked_distinct_background_kept(photos, tmp_path):
    out = tmp_path / "p.png"
    res = reelsmith.run("portrait", photos["astronaut"], photos["camera"], output=out, count=3,
                        save_mask=True, identity_model="dlib")
    meta = res.metadata
    files = [tmp_path / f"p-{k}.png" for k in (1, 2, 3)]
    assert all(f.is_file() for f in files) and not out.exists()
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]  # nothing staged left
    assert meta["backends"]["portrait"]["backend"] == "opencv" and "backend_reason" in meta
    assert "SDXL" in meta["backend_reason"] or "diffus" in meta["backend_reason"].lower()
    assert backend_metadata_problems(meta) == []
    results = meta["results"]
    assert [r["rank"] for r in results] == [1, 2, 3]
    sims = [r["identity"]["to_face"] for r in results]
    assert sims == sorted(sims, reverse=True)
    assert res.output == Path(results[0]["path"])  # the first output is the best result
    assert len({r["style"] for r in results}) == 3 and meta["variants_note"]
    images = [read_image(f)[0] for f in files]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(images[i].astype(int) - images[j].astype(int)).max() > 10
    ref = data.astronaut()
    mask = read_image(res.outputs["mask"])[0][..., 0]
    outside = cv2.dilate((mask > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) == 0
    assert outside.mean() > 0.5
    for img in images:
        assert np.array_equal(img[outside], ref[outside])  # the reference's background, 100%
    # Identity moved toward the face image (dlib embeddings): every result is closer to the
    # face image than the reference's own face was.
    assert all(r["identity"]["to_face"] > meta["identity_baseline"] for r in results)


def test_builtin_face_post_steps_and_post_list(photos, tmp_path):
    res = reelsmith.run("portrait", photos["astronaut"], photos["camera"], output=tmp_path / "e.png",
                        face_enhance=True, enhance_model="builtin", face_swap=True,
                        swap_model="builtin", post=["upscale:2,model=builtin"], identity_model="none")
    meta = res.metadata
    img = read_image(res.output)[0]
    assert img.shape[:2] == (1024, 1024)
    assert {"portrait", "face_swap", "post.face_restore", "post.upscale"} <= set(meta["backends"])
    assert [s["role"] for s in meta["post"]] == ["post.face_restore", "post.upscale"]
    assert "identity" not in meta["results"][0]


def test_face_index_chooses_the_reference_face(photos, tmp_path):
    left = reelsmith.run("portrait", photos["two"], photos["camera"], output=tmp_path / "l.png",
                         face_index=0, identity_model="none")
    right = reelsmith.run("portrait", photos["two"], photos["camera"], output=tmp_path / "r.png",
                          face_index=1, identity_model="none")
    two = read_image(photos["two"])[0]
    lo, ro = read_image(left.output)[0], read_image(right.output)[0]
    assert left.metadata["reference_face"] == {**left.metadata["reference_face"], "index": 0,
                                               "faces_found": 2}
    assert right.metadata["reference_face"]["index"] == 1
    assert np.array_equal(lo[:, 512:], two[:, 512:]) and not np.array_equal(lo[:, :512], two[:, :512])
    assert np.array_equal(ro[:, :512], two[:, :512]) and not np.array_equal(ro[:, 512:], two[:, 512:])
    with pytest.raises(InputError, match="face_index=5.*2 face"):
        reelsmith.run("portrait", photos["two"], photos["camera"], output=tmp_path / "x.png",
                      face_index=5)


def test_bad_inputs_name_the_image(photos, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with pytest.raises(InputError, match="reference image coffee.png has no usable face"):
        reelsmith.run("portrait", photos["coffee"], photos["camera"], output=tmp_path / "a.png")
    with pytest.raises(InputError, match="face image coffee.png has no usable face"):
        reelsmith.run("portrait", photos["astronaut"], photos["coffee"], output=tmp_path / "b.png")
    with pytest.raises(InputError, match="48 px"):
        reelsmith.run("portrait", photos["astronaut"], photos["small_face"], output=tmp_path / "c.png")
    with pytest.raises(InputError, match="count"):
        reelsmith.run("portrait", photos["astronaut"], photos["camera"], output=tmp_path / "d.png",
                      count=0)
    assert not list(tmp_path.iterdir())


def test_diffusers_backend_without_weights_lists_the_files(photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ModelError) as err:
        reelsmith.run("portrait", photos["astronaut"], photos["camera"], output=out / "a.png",
                      backend="diffusers")
    assert "stable-diffusion-xl-1.0-inpainting-0.1" in str(err.value)
    assert not list(out.iterdir())


def test_cli_ranks_results_and_takes_param(photos, tmp_path, capsys):
    out = tmp_path / "c.png"
    code = main(["portrait", str(photos["astronaut"]), str(photos["camera"]), "-o", str(out),
                 "--count", "2", "--param", "blur=12", "--identity-model", "dlib"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "#1:" in text and "#2:" in text and "identity" in text and "builtin" in text
    assert (tmp_path / "c-1.png").is_file() and (tmp_path / "c-2.png").is_file()
    code = main(["portrait", str(photos["astronaut"]), str(photos["camera"]), "-o", str(out),
                 "--json", "--identity-model", "none"])
    meta = json.loads(capsys.readouterr().out)["metadata"]
    assert code == 0 and meta["count"] == 1 and out.is_file()
    code = main(["portrait", str(photos["coffee"]), str(photos["camera"]), "-o", str(out)])
    assert code == 2 and "no usable face" in capsys.readouterr().err


def test_runpod_worker_contract_named_inputs(photos):
    from reelsmith.engine.context import JobContext
    from reelsmith.jobs.handler import run_handler_input

    def b64(path: Path) -> str:
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()

    res = run_handler_input({"workflow": "portrait",
                             "inputs": {"reference": b64(photos["astronaut"]),
                                        "face": b64(photos["camera"])},
                             "params": {"count": 2, "identity_model": "dlib"}}, JobContext())
    assert "error" not in res, res
    outs = [res["video"], *res["files"].values()]  # the best result first, then the others
    assert len(outs) == 2 and all(o.startswith("data:image/png;base64,") for o in outs)
    assert [r["rank"] for r in res["metadata"]["results"]] == [1, 2]


def test_no_visible_seam(photos, tmp_path):
    """Along the mask border the gradient stays within 1.5x of the reference's own."""
    res = reelsmith.run("portrait", photos["astronaut"], photos["camera"], output=tmp_path / "s.png",
                        save_mask=True, identity_model="none")
    ref = data.astronaut().astype(np.float64)
    out = read_image(res.output)[0].astype(np.float64)
    mask = read_image(res.outputs["mask"])[0][..., 0] / 255.0
    assert psnr(out, ref) > 15  # the face changed, the picture did not
    border = (mask > 0.05) & (mask < 0.95)

    def grad(img: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_RGB2GRAY)
        return np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))

    assert grad(out)[border].mean() <= 1.5 * grad(ref)[border].mean()
