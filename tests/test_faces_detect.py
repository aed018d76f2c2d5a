"""Face detection backends on real photos (scikit-image's bundled images)."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from reelsmith.analysis.faces.detect import (
    AUTO_ORDER,
    available_detectors,
    kps_from_box,
    select_detector,
)
from reelsmith.analysis.faces.find import FaceFinder
from reelsmith.analysis.faces.landmarks import select_landmarker
from reelsmith.config import reset_settings
from reelsmith.errors import InputError, ModelError

data = pytest.importorskip("skimage.data")

SHARED_YUNET = Path(__file__).resolve().parents[1].parent / "shared" / "models" / \
    "face_detection_yunet_2023mar.onnx"
BACKENDS = [b for b in AUTO_ORDER if b != "yunet"]


def _installed(name: str) -> None:
    if name not in available_detectors():
        pytest.skip(f"{name} is not installed here")


def _check_astronaut(faces) -> None:
    assert len(faces) == 1, [f.box for f in faces]
    f = faces[0]
    x1, y1, x2, y2 = f.box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2  # detectors frame faces differently: centre, size
    assert abs(cx - 225) < 15 and abs(cy - 120) < 15 and 70 < x2 - x1 < 130
    k = f.kps
    assert k.shape == (5, 2)
    assert np.all((k[:, 0] > x1) & (k[:, 0] < x2) & (k[:, 1] > y1) & (k[:, 1] < y2))
    assert k[0, 0] < k[1, 0] and k[3, 0] < k[4, 0]  # image-left first
    assert max(k[0, 1], k[1, 1]) < k[2, 1] < min(k[3, 1], k[4, 1])  # eyes, nose, mouth
    assert 0 < f.score <= 1 and f.detector


@pytest.mark.parametrize("name", BACKENDS)
def test_backend_finds_one_face_on_astronaut_and_none_on_cat_or_cup(name):
    _installed(name)
    det = select_detector(name)
    assert det.name == name and det.license
    _check_astronaut(det.detect(data.astronaut()))
    assert det.detect(data.chelsea()) == []
    assert det.detect(data.coffee()) == []


@pytest.mark.skipif(not SHARED_YUNET.is_file(), reason="no shared YuNet model here")
def test_yunet_from_a_path_on_any_image_size():
    det = select_detector(str(SHARED_YUNET))
    img = data.astronaut()
    _check_astronaut(det.detect(img))
    assert det.detect(data.chelsea()) == [] and det.detect(data.coffee()) == []
    # letterboxing maps points back: a wide, upscaled canvas gives the same face, scaled
    wide = np.zeros((512, 1400, 3), np.uint8)
    wide[:, 300:812] = img
    f = det.detect(wide)[0]
    assert np.allclose(f.box - [300, 0, 300, 0], det.detect(img)[0].box, atol=6)


def test_yunet_catalog_entry_and_missing_model_message(tmp_path, monkeypatch):
    from reelsmith.models import load_catalog

    e = load_catalog()["yunet"]
    assert e.purpose == "face_detect" and e.license == "Apache-2.0" and e.commercial is True
    assert e.url.endswith("face_detection_yunet_2023mar.onnx") and len(e.sha256) == 64
    monkeypatch.setenv("REELSMITH_MODELS", str(tmp_path / "models"))
    reset_settings()
    with pytest.raises(ModelError, match="reelsmith models pull yunet"):
        select_detector("yunet")
    assert select_detector("auto").name != "yunet"


@pytest.mark.skipif(not SHARED_YUNET.is_file(), reason="no shared YuNet model here")
def test_yunet_pull_then_auto_picks_it(tmp_path, monkeypatch):
    from reelsmith.analysis.faces import detect
    from reelsmith.models.download import pull

    body = SHARED_YUNET.read_bytes()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        cat = tmp_path / "cat.toml"
        cat.write_text(f'''[[model]]
name = "yunet"
purpose = "face_detect"
format = "onnx"
scale = 1
file = "face_detection_yunet_2023mar.onnx"
sha256 = "{hashlib.sha256(body).hexdigest()}"
url = "http://127.0.0.1:{srv.server_port}/yunet.onnx"
license = "Apache-2.0"
commercial = true
''')
        monkeypatch.setenv("REELSMITH_MODELS_CATALOG", str(cat))
        monkeypatch.setenv("REELSMITH_MODELS", str(tmp_path / "models"))
        reset_settings()
        monkeypatch.setattr(detect, "_LOCAL", threading.local())
        pull("yunet", progress=False)
        det = select_detector("auto")
        assert det.name == "yunet"
        _check_astronaut(det.detect(data.astronaut()))
    finally:
        srv.shutdown()
        srv.server_close()


def test_yunet_rejects_a_file_that_is_not_a_model(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="bad.onnx"):
        select_detector(str(bad))
    with pytest.raises(ModelError, match="does not exist"):
        select_detector(str(tmp_path / "missing.onnx"))


def test_auto_picks_an_installed_backend_and_unknown_names_fail():
    det = select_detector("auto")
    assert det.name in AUTO_ORDER
    _check_astronaut(det.detect(data.astronaut()))
    with pytest.raises(InputError, match="Unknown face detector"):
        select_detector("retinaface")


def test_bad_images_are_input_errors():
    det = select_detector("haar")
    with pytest.raises(InputError, match="RGB"):
        det.detect(np.zeros((4, 4, 7), np.uint8))
    with pytest.raises(InputError, match="8-bit"):
        det.detect(np.zeros((8, 8, 3), np.float32))


def test_haar_kps_are_estimated_and_say_so():
    faces = select_detector("haar").detect(data.astronaut())
    assert faces[0].extra["kps_estimated"] is True
    assert np.allclose(faces[0].kps, kps_from_box(faces[0].box))


def test_commercial_profile_refuses_dlib_landmarks_with_a_sentence(monkeypatch):
    _installed("dlib")
    monkeypatch.setenv("REELSMITH_LICENSE_PROFILE", "commercial")
    reset_settings()
    with pytest.raises(ModelError, match=r"iBUG 300-W.*commercial"):
        select_landmarker("dlib")
    with pytest.raises(ModelError, match="REELSMITH_LICENSE_PROFILE=commercial"):
        select_detector("dlib")
    assert select_landmarker("auto") is None  # auto skips it
    assert select_detector("auto").commercial is True


def test_dlib_landmarks_fit_other_detectors_faces():
    _installed("dlib")
    img = data.astronaut()
    hog = select_detector("dlib").detect(img)[0]
    finder = FaceFinder("mtcnn" if "mtcnn" in available_detectors() else "haar", landmarks="dlib")
    scan = finder.find(img)
    lm = scan.faces[0].landmarks
    assert lm.shape == (68, 2)
    assert np.linalg.norm(lm - hog.landmarks, axis=1).mean() < 4.0
    assert scan.describe()["landmarker"] == "dlib68" and "dlib68" in scan.describe()["licences"]


def test_finder_skips_faces_too_small():
    img = data.astronaut()
    scan = FaceFinder("haar", landmarks=False, min_size=200).find(img)
    assert scan.faces == [] and len(scan.skipped) == 1
    assert scan.to_dict()["skipped"][0]["reason"] == "too small to process (< 200 px)"
    small = FaceFinder("auto", landmarks=False).find(data.camera())
    assert len(small.faces) + len(small.skipped) <= 1


def test_named_backend_missing_says_how_to_install(monkeypatch):
    from reelsmith.analysis.faces import detect, optional_import

    monkeypatch.setattr(detect, "_LOCAL", threading.local())
    real = optional_import.import_inside

    def fail(package, module):
        if package == "facenet_pytorch":
            raise ImportError("No module named 'facenet_pytorch'")
        return real(package, module)

    import reelsmith.analysis.faces.detect_mtcnn as m

    monkeypatch.setattr(m, "import_inside", fail)
    with pytest.raises(ModelError, match="pip install --no-deps"):
        select_detector("mtcnn")


def test_a_copied_yunet_in_the_models_dir_is_found(tmp_path, monkeypatch):
    if not SHARED_YUNET.is_file():
        pytest.skip("no shared YuNet model here")
    from reelsmith.analysis.faces import detect

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(SHARED_YUNET, models / SHARED_YUNET.name)
    monkeypatch.setenv("REELSMITH_MODELS", str(models))
    reset_settings()
    monkeypatch.setattr(detect, "_LOCAL", threading.local())
    assert select_detector("yunet").path.parent == models


def test_each_thread_keeps_its_own_detector():
    """Detectors keep per-call state (YuNet's input size, MediaPipe's graph): two jobs on two
    threads must not share one, while one thread reuses what it loaded."""
    first = select_detector("haar")
    assert select_detector("haar") is first
    other: list = []
    t = threading.Thread(target=lambda: other.append(select_detector("haar")))
    t.start()
    t.join()
    assert other and other[0] is not first
