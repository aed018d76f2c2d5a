"""The face_detect workflow: images, a short video with a moving face, CLI and job server."""

from __future__ import annotations

import base64
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import reelsmith
from reelsmith.cli import main
from reelsmith.errors import InputError
from reelsmith.media.images import write_image
from reelsmith.workflows.backends import backend_metadata_problems

data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory) -> Path:
    return write_image(tmp_path_factory.mktemp("faces") / "astronaut.png", data.astronaut())


@pytest.fixture(scope="module")
def face_video(tmp_path_factory) -> Path:
    """1.6 s at 25 fps: the astronaut's face drifting right on a grey background."""
    path = tmp_path_factory.mktemp("faces") / "moving_face.mp4"
    face = data.astronaut()[20:240, 130:320]
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=Fraction(25))
        st.width, st.height, st.pix_fmt = 384, 256, "yuv420p"
        for i in range(40):
            img = np.full((256, 384, 3), 110, np.uint8)
            x = 20 + 3 * i
            img[18:238, x:x + 190] = face
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def test_image_report(astronaut_png, tmp_path):
    res = reelsmith.run("face_detect", astronaut_png, output=tmp_path / "r.json")
    assert res.outputs == {"report": tmp_path / "r.json"}
    report = json.loads(res.outputs["report"].read_text())
    assert report["faces"] == 1 and report["tracks"] == 0 and report["skipped_small"] == 0
    assert len(report["detections"]) == 1 and len(report["detections"][0]["kps"]) == 5
    assert report["licences"][report["detector"]]
    assert backend_metadata_problems(res.metadata) == []
    assert res.metadata["backends"]["face_detect"]["model"]


def test_no_face_is_a_result_not_an_error(tmp_path):
    cat = write_image(tmp_path / "cat.png", data.chelsea())
    res = reelsmith.run("face_detect", cat)
    report = json.loads(res.outputs["report"].read_text())
    assert report["faces"] == 0 and report["detections"] == [] and report["message"] == "No face found."


def test_video_faces_get_one_track(face_video, tmp_path):
    res = reelsmith.run("face_detect", face_video, output=tmp_path / "v.json",
                        params={"every": 4, "landmarks": False})
    report = json.loads(res.outputs["report"].read_text())
    assert report["kind"] == "video" and report["sampled_frames"] == 10
    assert [fr["index"] for fr in report["frames"]] == list(range(0, 40, 4))
    assert report["tracks"] == 1 and report["faces"] == 10
    ids = {d["track_id"] for fr in report["frames"] for d in fr["detections"]}
    assert ids == {0}
    xs = [fr["detections"][0]["box"][0] for fr in report["frames"]]
    assert all(b > a for a, b in zip(xs, xs[1:], strict=False))  # follows the face
    assert res.metadata["input"]["kind"] == "video"


def test_max_frames_bounds_the_scan(face_video):
    res = reelsmith.run("face_detect", face_video, params={"every": 1, "max_frames": 3,
                                                           "landmarks": False})
    assert json.loads(res.outputs["report"].read_text())["sampled_frames"] == 3


def test_bad_params_are_input_errors(astronaut_png):
    with pytest.raises(InputError, match="min_size"):
        reelsmith.run("face_detect", astronaut_png, params={"min_size": 0})


def test_cli_faces_detect_json(astronaut_png, tmp_path, capsys):
    assert main(["faces", "detect", str(astronaut_png), "-o", str(tmp_path / "c.json"),
                 "--json", "--min-size", "30"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["faces"] == 1 and report["detections"][0]["score"] > 0.5


def test_job_server_runs_face_detect(astronaut_png):
    from fastapi.testclient import TestClient
    from jobs_testkit import wait_for

    from reelsmith.server.app import create_app

    b64 = "data:image/png;base64," + base64.b64encode(astronaut_png.read_bytes()).decode()
    with TestClient(base_url="http://127.0.0.1", app=create_app(concurrency=1)) as client:
        r = client.post("/api/v1/jobs", json={"workflow": "face_detect", "inputs": {"video": b64},
                                              "params": {"landmarks": False}})
        assert r.status_code == 201, r.text

        def done():
            j = client.get(f"/api/v1/jobs/{r.json()['id']}").json()
            return j if j["status"] in ("completed", "failed", "cancelled") else None

        job = wait_for(done, 60)
        assert job["status"] == "completed", job
        report = client.get(job["outputs"]["report"]).json()
        assert report["faces"] == 1 and len(report["detections"]) == 1
