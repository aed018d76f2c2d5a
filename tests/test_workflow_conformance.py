"""One set of checks run over every registered workflow (in the manner of diffusers'
``PipelineTesterMixin``): a workflow added later gets them without writing them again.

For each workflow: its ``Params`` schema round-trips; it runs through the Python API on tiny
synthetic media made for each of its inputs, writes the output it names, reports progress and
says which backend ran; a cancel in mid-run stops it with ``Cancelled`` and leaves no output, no
partial file and no work directory; and a table of bad inputs each gives an ``InputError``.
"""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path

import pytest
from pydantic import BaseModel

import reelsmith
from mediagen import make_image, make_video
from reelsmith.errors import Cancelled, InputError
from reelsmith.media.probe import probe
from reelsmith.workflows import list_workflows
from reelsmith.workflows.backends import backend_metadata_problems
from reelsmith.workflows.base import InputSpec, Workflow

# Built-in workflows only: test suites register fakes of their own.
WORKFLOWS = {wf.name: wf for wf in list_workflows() if type(wf).__module__.startswith("reelsmith.")}

# Parameters that only make a run shorter on 2-second media; a workflow not listed runs
# with its defaults.
QUICK: dict[str, dict] = {
    "highlights": {"target_duration": 1.0, "min_clip": 0.5, "max_clip": 1.0},
    # the tiny media are colour and no model is installed: an explicit look, recolouring allowed
    "colorize": {"tint": "sepia", "force": True},
}


@pytest.fixture(params=sorted(WORKFLOWS))
def wf(request) -> Workflow:
    return WORKFLOWS[request.param]


@pytest.fixture
def scratch_tmp(tmp_path, monkeypatch) -> Path:
    """The process temp dir for this test, so left-over work dirs can be counted."""
    d = tmp_path / "systmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _face_photo(folder: Path) -> Path:
    """A real face (scikit-image's astronaut, cropped): inputs that must show a face."""
    from skimage.data import astronaut

    from reelsmith.media.images import write_image

    return write_image(folder / "face.png", astronaut()[0:260, 110:340])


# Inputs whose content matters: (workflow, input) -> a maker of suitable media.
SPECIAL_MEDIA = {("face_swap", "source"): _face_photo, ("portrait", "reference"): _face_photo,
                 ("portrait", "face"): _face_photo}


def _media_for(spec: InputSpec, folder: Path, *, seconds: float = 2.0, workflow: str = "") -> Path:
    if (workflow, spec.name) in SPECIAL_MEDIA:
        return SPECIAL_MEDIA[workflow, spec.name](folder)
    if "video" in spec.kinds:
        return make_video(folder / f"{spec.name}.mp4", width=96, height=64, seconds=seconds)
    return make_image(folder / f"{spec.name}.png", width=64, height=48)


def _sources(wf: Workflow, folder: Path, **kw) -> dict[str, Path | list[Path]]:
    out: dict[str, Path | list[Path]] = {}
    for spec in wf.inputs:
        if spec.required:
            media = _media_for(spec, folder, workflow=wf.name, **kw)
            out[spec.name] = [media, media] if spec.many else media
    return out


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".partial-" in p.name)


def test_every_workflow_declares_itself(wf):
    assert wf.name and wf.title and wf.description
    assert wf.inputs and all(i.kinds for i in wf.inputs)
    assert isinstance(wf.Params, type) and issubclass(wf.Params, BaseModel)
    json.dumps(wf.describe())  # what the server's /workflows and the studio read


def test_params_schema_round_trips(wf):
    defaults = wf.Params()
    dumped = defaults.model_dump(mode="json")
    assert wf.parse_params(json.loads(json.dumps(dumped))) == defaults
    schema = wf.Params.model_json_schema()
    assert set(schema["properties"]) == set(wf.Params.model_fields)
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{wf.name}.{name} has no description"
    with pytest.raises(InputError, match="no_such_parameter"):
        wf.parse_params({"no_such_parameter": 1})


def test_runs_on_tiny_media_and_reports_what_ran(wf, tmp_path, scratch_tmp):
    sources = _sources(wf, tmp_path)
    events = []
    out = tmp_path / "out" / f"result{wf.output_suffix(sources, wf.Params())}"
    out.parent.mkdir()
    r = reelsmith.run(wf.name, inputs=sources, output=out, progress=events.append,
                      **QUICK.get(wf.name, {}))
    assert r.output == out and out.is_file() and out.stat().st_size > 0
    assert all(p.is_file() for p in r.outputs.values())
    meta = json.loads(json.dumps(r.metadata))  # JSON-serialisable
    assert backend_metadata_problems(meta) == []  # says which backend (and model) ran
    if next(iter(r.outputs)) == "report":  # a JSON report (face_detect): not media to probe
        json.loads(out.read_text())
    else:
        info = probe(out)
        if "output" in meta and isinstance(meta["output"], dict):
            assert (meta["output"]["width"], meta["output"]["height"]) == (info.width, info.height)
            if meta["output"].get("frames"):
                assert meta["output"]["frames"] == info.frame_count
    assert events and events[-1].progress == pytest.approx(1.0)
    assert [e.progress for e in events] == sorted(e.progress for e in events)
    assert _leftovers(tmp_path) == [] and list(scratch_tmp.iterdir()) == []


def test_cancel_in_mid_run_leaves_nothing(wf, tmp_path, scratch_tmp):
    sources = _sources(wf, tmp_path, seconds=4.0)
    stop = threading.Event()

    def cancel_once_started(ev) -> None:
        if ev.progress > 0.0:
            stop.set()

    out = tmp_path / "out" / f"result{wf.output_suffix(sources, wf.Params())}"
    out.parent.mkdir()
    with pytest.raises(Cancelled):
        reelsmith.run(wf.name, inputs=sources, output=out, progress=cancel_once_started,
                      cancel_event=stop, **QUICK.get(wf.name, {}))
    assert list(out.parent.iterdir()) == []
    assert _leftovers(tmp_path) == [] and list(scratch_tmp.iterdir()) == []


def _bad_inputs(wf: Workflow, folder: Path) -> list[tuple[str, dict, str]]:
    """(case, keyword arguments for reelsmith.run, a word the message must contain).

    Each case spoils the first input; the workflow's other required inputs are given good
    media, so the message is about the spoilt one."""
    first = wf.inputs[0]
    others = {k: v for k, v in _sources(wf, folder).items() if k != first.name}
    text = folder / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    cases = [
        ("text posing as media", {"inputs": {first.name: text, **others}}, "notes.mp4"),
        ("empty file", {"inputs": {first.name: empty, **others}}, "empty.png"),
        ("missing file", {"inputs": {first.name: folder / "absent.mp4", **others}}, "absent.mp4"),
        ("no input at all", {"inputs": {}}, first.name),
        ("unknown input name", {"inputs": {"no_such_input": text}}, "no_such_input"),
        ("unknown parameter", {"inputs": _sources(wf, folder), "no_such_parameter": 3},
         "no_such_parameter"),
    ]
    if "image" not in first.kinds:
        cases.append(("an image where a video is needed",
                      {"inputs": {first.name: make_image(folder / "photo.png"), **others}}, "image"))
    if "video" not in first.kinds:
        cases.append(("a video where an image is needed",
                      {"inputs": {first.name: make_video(folder / "clip.mp4", seconds=0.5), **others}},
                      "video"))
    return cases


def test_bad_inputs_are_input_errors(wf, tmp_path, scratch_tmp):
    out = tmp_path / "out" / "result.bin"
    out.parent.mkdir()
    failures = []
    for case, kwargs, word in _bad_inputs(wf, tmp_path):
        try:
            reelsmith.run(wf.name, output=out, **kwargs)
        except InputError as exc:
            if word.lower() not in str(exc).lower():
                failures.append(f"{case}: the message does not name {word!r}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the point is which class it was
            failures.append(f"{case}: {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{case}: accepted")
    assert failures == []
    assert list(out.parent.iterdir()) == [] and list(scratch_tmp.iterdir()) == []
