"""Command-line flags generated from a workflow's ``Params`` model.

Every field becomes one flag (``name`` -> ``--kebab-name``, or the schema's ``cli.flag``)
in an argparse group named after the field's ``group``; fields sharing an ``exclusive``
name go in one mutually exclusive group. The flag's type follows the field: choices
become argparse ``choices`` (so ``--help`` and a bad value both list them), a number
that also takes a word (``--duration 60`` or ``--duration auto``) gets a parser for both,
booleans get ``--flag/--no-flag``, an object field takes JSON, a list field repeats its
flag (``--post a --post b``, or a JSON array: ``--post '["a", "b"]'``, ``--post []``; the
model may also split one value: ``--post a,b``). Ranges
are left to the model: a value out of range ends as the same one-sentence error the API
gives.

Flags default to None, so only what the user typed reaches the model and its own
defaults apply (the help text shows them). :func:`params_from_args` collects the values.

Importing a ``Params`` model imports the workflows (OpenCV, PyAV, NumPy: most of a
second), which ``reelsmith serve`` or ``reelsmith models list`` should not pay for. So a
command names its model as ``"module:Class"`` with :func:`attach_params`, and the flags
are added by :class:`ParamsParser` when that command is parsed or its help is shown.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from reelsmith.workflows.schema import ParamSpec


def flag_for(spec: ParamSpec) -> str:
    """The long option of a field: ``cli.flag`` or ``--`` + the name in kebab case."""
    return spec.cli.get("flag") or "--" + spec.name.replace("_", "-")


UNIT_METAVARS = {"s": "SECONDS", "px": "PIXELS", "fps": "FPS", "x": "FACTOR"}
"""How a unit reads as a flag's value placeholder; other units are shown in the help."""


def _metavar(spec: ParamSpec) -> str:
    return UNIT_METAVARS.get(spec.unit or "", spec.name.upper())


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def help_for(spec: ParamSpec) -> str:
    """The description, its unit, and the default (argparse expands %, so it is escaped)."""
    text = spec.description.rstrip(".")
    if spec.unit and spec.unit not in UNIT_METAVARS:
        text += f" [{spec.unit}]"
    if spec.default is not None:
        text += f" (default {_show(spec.default)})"
    if spec.cli.get("const") is not None:
        text += f"; the bare flag means {spec.cli['const']}"
    if spec.advanced:
        text += " (advanced)"
    return text.replace("%", "%%")


def _alias_type(aliases: dict[str, str]) -> Callable[[str], str]:
    """Other spellings (any case) -> the option they stand for, before argparse checks it."""

    def parse(raw: str) -> str:
        key = raw.strip().lower()
        return aliases.get(key, key)

    return parse


def _number_or_word(spec: ParamSpec) -> Callable[[str], float | int | str]:
    number = int if spec.kind == "int" else float
    words = ", ".join(repr(c) for c in spec.choices)
    what = "a number" + (" of seconds" if spec.unit == "s" else "")

    def parse(raw: str) -> float | int | str:
        if raw.strip().lower() in spec.choices:
            return raw.strip().lower()
        try:
            return number(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not {what} or {words}") from None

    return parse


def _json_object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a JSON object, e.g. '{{\"key\": 1}}'")
    return value


def _list_item(raw: str) -> list[str]:
    """One value of a list flag: a JSON array of strings, or else the text itself."""
    if raw.strip().startswith("["):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise argparse.ArgumentTypeError(f"{raw!r} is not a JSON array of strings, "
                                             "e.g. '[\"a\", \"b\"]'")
        return value
    return [raw]


def _argument_kwargs(spec: ParamSpec) -> dict[str, Any]:
    kw: dict[str, Any] = {"dest": spec.name, "default": None, "help": help_for(spec)}
    if spec.kind == "bool":
        kw["action"] = argparse.BooleanOptionalAction
        return kw
    if spec.choices and spec.kind == "str":
        kw["choices"] = list(spec.choices)
        if spec.value_aliases:
            kw["type"] = _alias_type(spec.value_aliases)
    elif spec.choices:
        kw.update(type=_number_or_word(spec), metavar=f"{_metavar(spec)}|{'|'.join(spec.choices)}")
    elif spec.kind == "object":
        kw.update(type=_json_object, metavar="JSON")
    elif spec.kind == "list":
        kw.update(action="append", type=_list_item, metavar=spec.name.upper())
    else:
        kw.update(type={"int": int, "float": float, "str": str}[spec.kind], metavar=_metavar(spec))
    if spec.cli.get("const") is not None:
        kw.update(nargs="?", const=spec.cli["const"])
    return kw


def add_params_arguments(parser: argparse.ArgumentParser,
                         params_model: type[BaseModel]) -> list[ParamSpec]:
    """Add one flag per field of ``params_model``; returns their specs.

    A ``cli.aliases`` entry is added only when no option of the parser or of another field
    claims it (``--model`` means the upscaler's model where both models are flags).
    """
    from reelsmith.workflows.schema import param_specs

    specs = param_specs(params_model)
    taken = set(parser._option_string_actions) | {flag_for(s) for s in specs}
    groups: dict[str, argparse._ArgumentGroup] = {}
    exclusive: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for spec in specs:
        title = spec.group or "parameters"
        if title not in groups:
            groups[title] = parser.add_argument_group(f"{title.lower()} options")
        target: Any = groups[title]
        if spec.exclusive:
            if spec.exclusive not in exclusive:
                exclusive[spec.exclusive] = target.add_mutually_exclusive_group()
            target = exclusive[spec.exclusive]
        aliases = [a for a in spec.cli.get("aliases", []) if a not in taken]
        taken.update(aliases)
        target.add_argument(flag_for(spec), *aliases, **_argument_kwargs(spec))
    return specs


def params_from_args(args: argparse.Namespace, specs: Collection[ParamSpec]) -> dict[str, Any]:
    """The values the user gave for ``specs`` (flags left out are not in the dict)."""
    values = {s.name: getattr(args, s.name) for s in specs
              if getattr(args, s.name, None) is not None}
    for s in specs:
        if s.kind == "list" and s.name in values:  # one list per flag given: join them
            values[s.name] = [item for given in values[s.name] for item in given]
    return values


class ParamsParser(argparse.ArgumentParser):
    """An ArgumentParser that adds its ``Params`` flags on first use (see the module doc).

    ``params_model`` is ``"module:Class"`` or None (a command without workflow params). Once
    added, the specs are stored as the ``param_specs`` default for :func:`params_from_args`.
    """

    params_model: str | None = None
    _params_added = False

    def _add_params(self) -> None:
        if self.params_model is None or self._params_added:
            return
        self._params_added = True
        module, _, name = self.params_model.partition(":")
        model = getattr(importlib.import_module(module), name)
        self.set_defaults(param_specs=add_params_arguments(self, model))

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None
                         ) -> tuple[argparse.Namespace, list[str]]:
        self._add_params()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._add_params()
        return super().format_help()

    def format_usage(self) -> str:
        self._add_params()
        return super().format_usage()


def attach_params(parser: argparse.ArgumentParser, params_model: str) -> None:
    """Give ``parser`` (a :class:`ParamsParser`) the flags of ``"module:Class"``, added lazily."""
    if not isinstance(parser, ParamsParser):
        raise TypeError("attach_params needs a ParamsParser (build_parser's subparser class)")
    parser.params_model = params_model
    parser.set_defaults(param_specs=())
