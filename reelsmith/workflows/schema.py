"""Field metadata for workflow ``Params``: one helper to write it, one reader to use it.

A workflow's pydantic ``Params`` model is the single source for every face: the server
publishes its JSON schema (API docs, studio forms) and the CLI builds its flags from it
(:mod:`reelsmith.cli.params_args`). What the type system can say, it says: choices are
``Literal`` types (the schema lists them as ``enum``) and bounds are ``ge``/``le``/``gt``.
What it cannot say goes through :func:`param` into ``json_schema_extra`` under the keys
below, so the schema carries it and :func:`param_specs` reads it back:

``unit``           "s", "px", "x", "fps" ... shown after the description
``group``          a heading that gathers related fields ("Upscale", "Encoding", ...)
``order``          sort key for presenting fields (groups follow their first field)
``advanced``       true for fields a form may fold away
``exclusive``      fields sharing this name exclude one another (e.g. scale / height)
``value_aliases``  other spellings accepted for a choice, mapped to the listed option
``cli``            how the command line spells the flag: ``flag`` (the long option when it
                   is not ``--kebab-name``), ``aliases`` (more option strings, used where no
                   other field of the command claims them) and ``const`` (the value of the
                   bare flag, e.g. ``--vertical`` alone means "center")
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, Field
from pydantic_core import PydanticUndefined


class CliSpec(TypedDict, total=False):
    flag: str
    aliases: list[str]
    const: Any


def param(default: Any = PydanticUndefined, *, description: str, unit: str | None = None,
          group: str | None = None, order: int | None = None, advanced: bool = False,
          exclusive: str | None = None, value_aliases: Mapping[str, str] | None = None,
          cli: CliSpec | None = None, examples: list[Any] | None = None,
          default_factory: Any = None, **constraints: Any) -> Any:
    """A pydantic ``Field`` with reelsmith's presentation metadata (keys in the module doc).

    ``constraints`` are pydantic's own (``ge``, ``le``, ``gt``, ``max_length`` ...).
    """
    extra: dict[str, Any] = {}
    if unit:
        extra["unit"] = unit
    if group:
        extra["group"] = group
    if order is not None:
        extra["order"] = order
    if advanced:
        extra["advanced"] = True
    if exclusive:
        extra["exclusive"] = exclusive
    if value_aliases:
        extra["value_aliases"] = dict(value_aliases)
    if cli:
        extra["cli"] = dict(cli)
    kwargs: dict[str, Any] = dict(description=description, examples=examples,
                                  json_schema_extra=extra or None, **constraints)
    if default_factory is not None:
        return Field(default_factory=default_factory, **kwargs)
    return Field(default, **kwargs)


Kind = Literal["bool", "int", "float", "str", "list", "object"]


@dataclass(frozen=True)
class ParamSpec:
    """One ``Params`` field as a face presents it.

    ``kind`` is the value type besides the choices: for ``float | Literal["auto"]`` it is
    "float" with ``choices == ("auto",)``; for a plain ``Literal`` it is "str"; a
    ``list[str]`` is "list" (the CLI repeats its flag).
    """

    name: str
    description: str
    kind: Kind
    default: Any
    required: bool
    nullable: bool
    choices: tuple[str, ...] = ()
    unit: str | None = None
    group: str | None = None
    order: int = 0
    advanced: bool = False
    exclusive: str | None = None
    value_aliases: dict[str, str] = field(default_factory=dict)
    cli: dict[str, Any] = field(default_factory=dict)


def _split_type(annotation: Any) -> tuple[list[Any], tuple[str, ...], bool]:
    """(non-literal member types, literal options, whether None is accepted)."""
    members = [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = list(typing.get_args(annotation))
    plain: list[Any] = []
    choices: list[str] = []
    nullable = False
    for m in members:
        while typing.get_origin(m) is typing.Annotated:
            m = typing.get_args(m)[0]
        if m is type(None):
            nullable = True
        elif typing.get_origin(m) is Literal:
            choices.extend(str(a) for a in typing.get_args(m))
        else:
            plain.append(m)
    return plain, tuple(choices), nullable


def _kind(plain: list[Any], name: str) -> Kind:
    if not plain:
        return "str"
    t = plain[0]
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float"
    if t is str:
        return "str"
    if typing.get_origin(t) is list:
        return "list"
    if isinstance(t, type) and issubclass(t, BaseModel) or typing.get_origin(t) is dict:
        return "object"
    raise TypeError(f"Params field {name!r} has a type faces cannot present: {t!r}")


def param_specs(params_model: type[BaseModel]) -> list[ParamSpec]:
    """Every field of ``params_model``, sorted for presentation (by ``order``, then as declared)."""
    specs = []
    for name, info in params_model.model_fields.items():
        plain, choices, nullable = _split_type(info.annotation)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
            if isinstance(default, BaseModel):
                default = default.model_dump()
        else:
            default = None if info.default is PydanticUndefined else info.default
        specs.append(ParamSpec(
            name=name, description=info.description or "", kind=_kind(plain, name),
            default=default, required=info.is_required(), nullable=nullable, choices=choices,
            unit=extra.get("unit"), group=extra.get("group"), order=int(extra.get("order", 0)),
            advanced=bool(extra.get("advanced", False)), exclusive=extra.get("exclusive"),
            value_aliases=dict(extra.get("value_aliases") or {}), cli=dict(extra.get("cli") or {}),
        ))
    position = {s.name: i for i, s in enumerate(specs)}
    return sorted(specs, key=lambda s: (s.order, position[s.name]))
