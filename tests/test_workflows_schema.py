"""Every workflow's Params schema is complete enough to generate a face from, and every
workflow's result says which backend ran in the one shape of workflows/backends.py."""

from __future__ import annotations

import typing

import pytest

import reelsmith
from reelsmith.errors import InputError
from reelsmith.media.writer import CODECS
from reelsmith.workflows import list_workflows
from reelsmith.workflows.backends import backend_metadata, backend_metadata_problems
from reelsmith.workflows.params import CodecName
from reelsmith.workflows.schema import param_specs

# The built-in ones: test modules register fakes of their own (jobs_testkit).
WORKFLOWS = [wf.name for wf in list_workflows() if type(wf).__module__.startswith("reelsmith.")]

# The choice fields we know of, so a Literal turning back into a plain str is noticed.
KNOWN_CHOICES = {
    "upscale": {"codec"},
    "interpolate": {"codec", "quality"},
    "upscale_and_interpolation": {"codec", "quality"},
    "highlights": {"codec", "vertical", "subtitles", "method", "scene_detector",
                   "target_duration"},
    "face_detect": {"detector"},
    "face_restore": {"detector", "codec"},
    "face_swap": {"detector", "codec"},
    "restore_photo": {"deblock"},
    "colorize": {"tint", "codec"},
    "portrait": {"backend", "mode", "detector"},
}


def _options(prop: dict) -> list:
    """The enum options a JSON schema property lists (a single option is a ``const``)."""
    found = list(prop.get("enum", []))
    if "const" in prop:
        found.append(prop["const"])
    for sub in prop.get("anyOf", []):
        found += _options(sub)
    return found


@pytest.mark.parametrize("name", WORKFLOWS)
def test_schema_lists_the_options_of_every_choice_field(name):
    wf = reelsmith.workflows.get_workflow(name)
    props = wf.describe()["params_schema"]["properties"]
    with_choices = set()
    for spec in param_specs(wf.Params):
        if spec.choices:
            with_choices.add(spec.name)
            assert _options(props[spec.name]) == list(spec.choices), spec.name
    assert KNOWN_CHOICES[name] <= with_choices


@pytest.mark.parametrize("name", WORKFLOWS)
def test_schema_carries_presentation_metadata(name):
    wf = reelsmith.workflows.get_workflow(name)
    props = wf.describe()["params_schema"]["properties"]
    for key, prop in props.items():
        assert prop.get("description"), key
        assert isinstance(prop.get("group"), str) and isinstance(prop.get("order"), int), key
    specs = param_specs(wf.Params)
    assert [s.order for s in specs] == sorted(s.order for s in specs)
    assert any(s.advanced for s in specs) and not all(s.advanced for s in specs)


def test_units_exclusive_pairs_and_free_model_names():
    props = reelsmith.workflows.get_workflow("upscale_and_interpolation").Params.model_json_schema()[
        "properties"]
    assert (props["height"]["unit"], props["fps"]["unit"]) == ("px", "fps")
    assert props["scale"]["exclusive"] == props["height"]["exclusive"] == "size"
    assert props["multiplier"]["exclusive"] == props["fps"]["exclusive"] == "rate"
    assert {"type": "integer", "minimum": 1, "maximum": 8} in props["scale"]["anyOf"]
    for key in ("model", "interpolation_model"):  # free text, known values as examples
        assert props[key]["type"] == "string" and "enum" not in props[key]
        assert {"auto", "builtin"} <= set(props[key]["examples"])
    hl = reelsmith.workflows.get_workflow("highlights").Params.model_json_schema()["properties"]
    assert hl["min_clip"]["unit"] == "s" and hl["weights"]["advanced"] is True


def test_codec_choices_are_the_writers_codecs():
    assert set(typing.get_args(CodecName)) == set(CODECS)


def test_codec_aliases_are_accepted_and_a_bad_codec_names_the_options():
    wf = reelsmith.workflows.get_workflow("upscale")
    assert wf.parse_params({"codec": " HEVC "}).codec == "h265"
    assert wf.parse_params({"codec": "libx264"}).codec == "h264"
    with pytest.raises(InputError, match="codec") as err:
        wf.parse_params({"codec": "divx"})
    assert all(c in str(err.value) for c in CODECS)
    hl = reelsmith.workflows.get_workflow("highlights")
    assert hl.parse_params({"codec": "x265"}).codec == "h265"


def test_a_bad_choice_names_the_options():
    with pytest.raises(InputError, match="quality") as err:
        reelsmith.workflows.get_workflow("interpolate").parse_params({"quality": "ultra"})
    assert all(q in str(err.value) for q in ("'fast'", "'medium'", "'high'"))


def test_backend_metadata_shape():
    meta = backend_metadata({
        "interpolate": {"name": "rife-v4.6", "backend": "onnxruntime",
                        "provider": "CPUExecutionProvider"},
        "upscale": {"name": "builtin-lanczos", "backend": "opencv"},
        "speech": {"backend": "onnxruntime", "available": True},
    })
    assert meta["backend"] == "onnxruntime+opencv"
    assert meta["model"] == "rife-v4.6+builtin-lanczos"
    assert meta["backends"]["interpolate"] == {"backend": "onnxruntime", "model": "rife-v4.6",
                                               "provider": "CPUExecutionProvider"}
    assert meta["backends"]["speech"]["model"] is None
    assert backend_metadata_problems(meta) == []
    assert backend_metadata({"upscale": {"name": "x"}})["backend"] == "opencv"
    with pytest.raises(ValueError):
        backend_metadata({})


@pytest.mark.parametrize("bad", [
    {"backend": {"upscale": "opencv", "interpolate": "opencv"}},  # the old per-workflow dict
    {"backend": "opencv"},  # no detail
    {"backend": "opencv", "model": {"upscale": "x"},
     "backends": {"upscale": {"backend": "opencv", "model": "x", "provider": None}}},
    {"backend": "pytorch", "model": None,
     "backends": {"upscale": {"backend": "opencv", "model": None, "provider": None}}},
    {"backend": "opencv", "model": None, "backends": {"upscale": {"backend": "opencv"}}},
])
def test_backend_metadata_problems_are_found(bad):
    assert backend_metadata_problems(bad)


RUN_PARAMS = {
    "upscale": {"scale": 2},
    "interpolate": {"multiplier": 2},
    "upscale_and_interpolation": {"scale": 2, "multiplier": 2},
    "highlights": {"target_duration": 1.0, "min_clip": 0.5, "max_clip": 1.0},
    "face_detect": {"every": 10},
    "face_restore": {},
    "face_swap": {},
    "restore_photo": {},
    "colorize": {"tint": "sepia", "force": True},  # the clip is colour; no model installed
    "portrait": {"identity_model": "none"},
}


@pytest.mark.parametrize("name", WORKFLOWS)
def test_every_workflow_result_says_which_backend_ran(name, clip, tmp_path):
    more = []
    if name in ("face_swap", "portrait"):  # its second input is a photo of the face to put in
        from skimage.data import astronaut

        from reelsmith.media.images import write_image

        more = [write_image(tmp_path / "face.png", astronaut()[0:260, 110:340])]
    out = tmp_path / "out.mp4"
    if name == "restore_photo":  # photos only
        from mediagen import make_image
        clip, out = make_image(tmp_path / "photo.png", width=64, height=48), tmp_path / "out.png"
    if name == "portrait":  # two photos with faces
        clip, out = more[0], tmp_path / "out.png"
    r = reelsmith.run(name, clip, *more, output=out, **RUN_PARAMS[name])
    assert backend_metadata_problems(r.metadata) == []
    assert r.metadata["backends"]


def test_upscale_and_interpolation_names_both_roles_in_stage_order(clip, tmp_path):
    r = reelsmith.run("upscale_and_interpolation", clip, output=tmp_path / "o.mp4", scale=2,
                      multiplier=2, model="builtin", interpolation_model="builtin")
    assert list(r.metadata["backends"]) == ["interpolate", "upscale"]
    assert r.metadata["backend"] == "opencv"
    assert r.metadata["model"] == "builtin-flow+builtin-lanczos"
