"""The one input-binding step: sources by position and by name, ``many`` inputs, and every
refusal with its sentence and field. Also the faces that use it (Python API, worker
handler, /api/v1) word the same problem the same way."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from reelsmith.errors import InputError, UnsupportedMediaError
from reelsmith.inputs import require_kind
from reelsmith.workflows import get_workflow
from reelsmith.workflows.base import InputSpec, Workflow
from reelsmith.workflows.binding import BindingError, bind_sources


class _NoParams(BaseModel):
    pass


class Collage(Workflow):
    """Not registered: a background image, an optional logo, then any number of photos."""

    name = "collage_test"
    inputs = (InputSpec("background", ("image",)),
              InputSpec("logo", ("image",), required=False),
              InputSpec("photos", ("image",), many=True))
    Params = _NoParams


class Pair(Workflow):
    name = "pair_test"
    inputs = (InputSpec("first"), InputSpec("second"))
    Params = _NoParams


def _problems(excinfo: pytest.ExceptionInfo[BindingError]) -> list[tuple[str, str]]:
    return [(p.field, p.message) for p in excinfo.value.problems]


def test_positional_sources_fill_inputs_in_order():
    bound = bind_sources(Pair(), ["a.mp4", "b.mp4"])
    assert list(bound) == ["first", "second"]
    assert bound["first"].sources == ("a.mp4",) and bound["second"].sources == ("b.mp4",)
    assert bound["first"].positional and bound["first"].field == "inputs.first"
    assert bound["second"].pack(["B"]) == "B"


def test_a_trailing_many_input_takes_the_remaining_positional_sources():
    bound = bind_sources(Collage(), ["bg.png", "logo.png", "1.png", "2.png", "3.png"])
    assert bound["background"].sources == ("bg.png",)
    assert bound["photos"].sources == ("1.png", "2.png", "3.png")
    assert bound["photos"].pack(["x", "y", "z"]) == ["x", "y", "z"]


def test_named_sources_and_order_follow_the_workflow():
    bound = bind_sources(Collage(), named={"photos": ["1.png", "2.png"], "background": "bg.png"})
    assert list(bound) == ["background", "photos"]  # the optional logo is simply absent
    assert not bound["photos"].positional and bound["photos"].sources == ("1.png", "2.png")


def test_positional_and_named_together():
    bound = bind_sources(Pair(), ["a.mp4"], {"second": {"url": "https://example.com/b.mp4"}})
    assert bound["first"].sources == ("a.mp4",)
    assert bound["second"].sources == ({"url": "https://example.com/b.mp4"},)


def test_a_plain_input_accepts_a_list_of_exactly_one():
    assert bind_sources(Pair(), named={"first": ["a"], "second": "b"})["first"].sources == ("a",)


def test_too_many_sources():
    with pytest.raises(BindingError) as ei:
        bind_sources(Pair(), ["a", "b", "c"])
    assert _problems(ei) == [("inputs", "The pair_test workflow takes 2 inputs (first, second), got 3 sources.")]


def test_missing_required_inputs_are_all_named():
    with pytest.raises(BindingError) as ei:
        bind_sources(Collage(), named={"logo": "l.png"})
    assert _problems(ei) == [
        ("inputs.background", "The collage_test workflow needs the input 'background'."),
        ("inputs.photos", "The collage_test workflow needs the input 'photos'."),
    ]
    assert str(ei.value) == ("The collage_test workflow needs the input 'background'. "
                             "The collage_test workflow needs the input 'photos'.")
    assert isinstance(ei.value, InputError) and ei.value.http_status == 400


def test_an_empty_list_counts_as_not_given():
    with pytest.raises(BindingError, match="needs the input 'photos'"):
        bind_sources(Collage(), named={"background": "bg.png", "photos": []})


def test_require_false_skips_the_missing_check_only():
    assert bind_sources(Pair(), require=False) == {}
    with pytest.raises(BindingError, match="no input named 'third'"):
        bind_sources(Pair(), named={"third": "x"}, require=False)


def test_unknown_input_name():
    with pytest.raises(BindingError) as ei:
        bind_sources(Pair(), ["a", "b"], {"thrid": "c"})
    assert _problems(ei) == [("inputs.thrid", "The pair_test workflow has no input named 'thrid' "
                                              "(it takes: first, second).")]


def test_an_input_given_twice():
    with pytest.raises(BindingError) as ei:
        bind_sources(Pair(), ["a", "b"], {"first": "c"})
    assert _problems(ei) == [("inputs.first", "The input 'first' of the pair_test workflow was given twice.")]
    with pytest.raises(BindingError, match="'second' of the pair_test workflow was given twice"):
        bind_sources(Pair(), named=[("first", "a"), ("second", "b"), ("second", ["c"])])


def test_a_many_input_given_a_single_source():
    with pytest.raises(BindingError) as ei:
        bind_sources(Collage(), named={"background": "bg.png", "photos": "1.png"})
    assert _problems(ei) == [("inputs.photos", "The input 'photos' of the collage_test workflow takes "
                                               "a list of sources.")]


def test_a_plain_input_given_several_sources():
    with pytest.raises(BindingError) as ei:
        bind_sources(Pair(), named={"first": ["a", "b"], "second": "c"})
    assert _problems(ei) == [("inputs.first", "The input 'first' of the pair_test workflow takes one "
                                              "source, not 2.")]


def test_every_problem_is_reported_at_once_and_a_refused_input_is_not_also_missing():
    with pytest.raises(BindingError) as ei:
        bind_sources(Collage(), named={"photos": "1.png", "nope": "x"})
    assert [f for f, _ in _problems(ei)] == ["inputs.photos", "inputs.nope", "inputs.background"]


def test_wrong_media_kind_has_one_sentence():
    require_kind(("video", "image"), "image")
    with pytest.raises(UnsupportedMediaError) as ei:
        require_kind(("video",), "image")
    assert ei.value.message == "This input must be a video, but the file is an image."
    with pytest.raises(UnsupportedMediaError, match="must be an image, but the upload is a video"):
        require_kind(("image",), "video", "the upload")


# -- the faces word binding problems with the same sentences --------------------------
def test_python_api_uses_the_binding(tmp_path):
    import reelsmith

    with pytest.raises(BindingError, match="The upscale workflow takes 1 input \\(video\\), got 2 sources"):
        reelsmith.run("upscale", "a.mp4", "b.mp4", output=tmp_path / "o.mp4")
    with pytest.raises(BindingError, match="The upscale workflow needs the input 'video'"):
        reelsmith.run("upscale", output=tmp_path / "o.mp4")
    with pytest.raises(BindingError, match="no input named 'audio'"):
        reelsmith.run("upscale", "a.mp4", inputs={"audio": "b.wav"}, output=tmp_path / "o.mp4")


def test_worker_handler_uses_the_binding():
    from reelsmith.engine.context import JobContext
    from reelsmith.jobs.handler import parse_input, run_handler_input

    res = run_handler_input({"inputs": {"video": "a.mp4", "audio": "b.wav"}}, JobContext())
    assert res["error"] == "The upscale workflow has no input named 'audio' (it takes: video)."
    res = run_handler_input({"video_path": "a.mp4", "inputs": {"video": "b.mp4"}}, JobContext())
    assert res["error"] == "The input 'video' of the upscale workflow was given twice."
    req = parse_input({"video_url": "https://example.com/a.mp4"})
    assert req.sources["video"].sources == ({"url": "https://example.com/a.mp4"},)
    assert req.sources["video"].positional and req.workflow is get_workflow("upscale")


def test_job_server_uses_the_binding():
    from fastapi.testclient import TestClient

    from reelsmith.server.app import create_app

    with TestClient(base_url="http://127.0.0.1", app=create_app(run_jobs=False)) as client:
        r = client.post("/api/v1/jobs", json={"workflow": "upscale",
                                              "inputs": {"video": ["a.mp4", "b.mp4"], "audio": "c"}})
        assert r.status_code == 422 and r.json()["error"] == "validation_error"
        assert r.json()["fields"] == [
            {"field": "inputs.video", "message": "The input 'video' of the upscale workflow takes one "
                                                 "source, not 2"},
            {"field": "inputs.audio", "message": "The upscale workflow has no input named 'audio' "
                                                 "(it takes: video)"}]
        r = client.post("/v2/ep/run", json={"input": {"video_url": "https://example.com/a.mp4",
                                                      "inputs": {"video": "https://example.com/b.mp4"}}})
        assert r.status_code == 400
        assert r.json()["message"] == "The input 'video' of the upscale workflow was given twice."
        assert client.get("/api/v1/jobs").json()["total"] == 0
