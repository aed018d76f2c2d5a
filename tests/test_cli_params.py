"""Workflow flags are generated from the Params schemas (reelsmith/cli/params_args.py)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Literal

import pytest
from pydantic import BaseModel

from reelsmith.cli import build_parser, main
from reelsmith.cli.params_args import add_params_arguments, flag_for, params_from_args
from reelsmith.workflows import get_workflow
from reelsmith.workflows.params import EncodeParams
from reelsmith.workflows.schema import param, param_specs

# command -> the Params model its flags come from
COMMANDS = {"upscale": get_workflow("upscale").Params,
            "interpolate": get_workflow("interpolate").Params,
            "highlights": get_workflow("highlights").Params,
            "run": EncodeParams}


def _subparser(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices[command]
    parser.format_help()  # adds the generated flags
    return parser


def _parse(command: str, *flags: str) -> dict:
    pos = ["upscale", "in.mp4"] if command == "run" else ["in.mp4"]
    args = build_parser().parse_args([command, *pos, *flags])
    return params_from_args(args, args.param_specs)


def _as_cli(value) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_flag_for_every_field_with_its_choices_and_default(command):
    model = COMMANDS[command]
    actions = {a.dest: a for a in _subparser(command)._actions}
    assert _parse(command) == {}  # nothing given: the model's own defaults apply
    for spec in param_specs(model):
        action = actions[spec.name]
        assert flag_for(spec) in action.option_strings
        if spec.choices and spec.kind == "str":
            assert list(action.choices) == list(spec.choices)
        if spec.default is not None:
            assert f"(default {_as_cli(spec.default)})" in action.help
            # The default, typed on the command line, is the model's default again.
            if spec.kind == "bool":  # --flag / --no-flag
                flag = flag_for(spec) if spec.default else "--no-" + flag_for(spec)[2:]
                given = _parse(command, flag)
            else:
                given = _parse(command, flag_for(spec), _as_cli(spec.default))
            assert model(**given) == model(), spec.name


def test_hand_written_spellings_are_kept():
    assert _parse("interpolate", "--model", "rife-v4.6") == {"interpolation_model": "rife-v4.6"}
    assert _parse("interpolate", "--interpolation-model", "builtin") == \
        {"interpolation_model": "builtin"}
    assert _parse("upscale", "--model", "builtin") == {"model": "builtin"}
    assert _parse("highlights", "--duration", "auto", "--vertical", "--subtitles") == \
        {"target_duration": "auto", "vertical": "center", "subtitles": "srt"}
    assert _parse("highlights", "--duration", "7.5", "--vertical", "follow") == \
        {"target_duration": 7.5, "vertical": "follow"}
    assert _parse("upscale", "--codec", "HEVC") == {"codec": "h265"}
    assert _parse("run", "--crf", "20", "--preset", "fast") == {"crf": 20, "preset": "fast"}
    assert _parse("highlights", "--weights", '{"llm": 0}') == {"weights": {"llm": 0}}


@pytest.mark.parametrize(("argv", "options"), [
    (["interpolate", "in.mp4", "--quality", "ultra"], ["fast", "medium", "high"]),
    (["upscale", "in.mp4", "--codec", "divx"], ["h264", "h265", "vp9", "av1", "hevc_nvenc"]),
    (["highlights", "in.mp4", "--vertical", "sideways"], ["off", "center", "blur-pad", "follow"]),
    (["highlights", "in.mp4", "--duration", "long"], ["auto"]),
    (["highlights", "in.mp4", "--method", "guess"], ["auto", "visual", "multimodal"]),
    (["upscale", "in.mp4", "--scale", "2", "--height", "100"], ["--scale"]),
])
def test_a_bad_choice_exits_2_naming_the_options(argv, options, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert argv[2] in err
    assert all(o in err for o in options), err


def test_help_shows_groups_units_and_choices():
    text = _subparser("highlights").format_help()
    for needle in ("reel options", "format options", "encoding options", "--min-clip SECONDS",
                   "{off,center,blur-pad,follow}", "(advanced)", "--duration SECONDS|auto"):
        assert needle in text
    assert "--scale FACTOR | --height PIXELS" in _subparser("upscale").format_help()


class Toy(BaseModel):
    fast: bool = param(False, description="go fast", group="Speed", order=2)
    level: int | Literal["max"] = param(3, ge=1, description="how much", group="Speed", order=1)
    name: str = param("a", description="a name", cli={"aliases": ["-n", "--level"]})


def test_generator_handles_bools_numbers_with_words_and_taken_aliases():
    parser = argparse.ArgumentParser()
    specs = add_params_arguments(parser, Toy)
    assert [s.name for s in specs] == ["name", "level", "fast"]  # unordered first, then order

    def parse(*argv: str) -> dict:
        return params_from_args(parser.parse_args(list(argv)), specs)

    assert parse("--fast", "--level", "max", "-n", "b") == {"fast": True, "level": "max", "name": "b"}
    assert parse("--no-fast", "--level", "5") == {"fast": False, "level": 5}
    assert "--level" not in next(a for a in parser._actions if a.dest == "name").option_strings
    with pytest.raises(SystemExit):
        parser.parse_args(["--level", "lots"])


def test_parser_is_built_without_importing_the_workflows():
    code = ("import sys; from reelsmith.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith('reelsmith.workflows')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
