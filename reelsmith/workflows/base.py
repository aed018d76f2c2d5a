"""The workflow contract and registry.

A workflow is a user-facing task. It declares its inputs, a pydantic ``Params`` model
and a ``run`` method. The ``Params`` model is the single source of its parameters: fields
are declared with :func:`reelsmith.workflows.schema.param` (choices as ``Literal``, units,
groups), the server publishes its JSON schema (API docs, studio forms) and the CLI
generates the command's flags from it (``reelsmith.cli.params_args``). Faces (CLI, server,
serverless) only resolve inputs, validate params and call ``run``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from reelsmith.engine.context import JobContext
from reelsmith.errors import InputError


@dataclass(frozen=True)
class InputSpec:
    name: str  # e.g. "video", "image", "images"
    kinds: tuple[str, ...] = ("video",)  # accepted media kinds: "video", "image"
    required: bool = True
    many: bool = False
    description: str = ""


@dataclass
class WorkflowResult:
    """What a workflow produced. ``outputs`` maps a role ("video", "image", "srt",
    "report") to a file; ``metadata`` is JSON-serialisable and always says which
    backend/model ran (``backend``, ``model``, ``backends``: the shape built by
    :func:`reelsmith.workflows.backends.backend_metadata`) and the input/output properties."""

    outputs: dict[str, Path]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> Path:
        """The main output (the first one)."""
        return next(iter(self.outputs.values()))

    def to_dict(self) -> dict[str, Any]:
        return {"outputs": {k: str(v) for k, v in self.outputs.items()}, "metadata": self.metadata}


class Workflow:
    """Base class. Subclasses set the class attributes and implement :meth:`run`."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[tuple[InputSpec, ...]] = (InputSpec("video"),)
    Params: ClassVar[type[BaseModel]]

    def parse_params(self, values: Mapping[str, Any] | BaseModel | None) -> BaseModel:
        """Validate user parameters; errors become one InputError naming each bad field."""
        if isinstance(values, self.Params):
            return values
        try:
            return self.Params.model_validate(dict(values or {}))
        except ValidationError as exc:
            raise InputError(format_validation_error(exc, self.name)) from None

    def output_suffix(self, inputs: Mapping[str, Path], params: BaseModel) -> str:
        """Extension of the main output for these inputs (".mp4" by default)."""
        return ".mp4"

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: BaseModel,
            output: Path) -> WorkflowResult:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title or self.name,
            "description": self.description,
            "inputs": [vars(i) | {"kinds": list(i.kinds)} for i in self.inputs],
            "params_schema": self.Params.model_json_schema(),
        }


def format_validation_error(exc: ValidationError, where: str = "") -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ())) or "params"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    prefix = f"Invalid parameters for {where}" if where else "Invalid parameters"
    return prefix + " — " + "; ".join(parts) + "."


_REGISTRY: dict[str, Workflow] = {}


def register(workflow_cls: type[Workflow]) -> type[Workflow]:
    """Class decorator: ``@register`` adds one instance to the registry."""
    _REGISTRY[workflow_cls.name] = workflow_cls()
    return workflow_cls


def registered(name: str) -> Workflow:
    """The registered workflow ``name``; an InputError naming the valid ones otherwise.

    Only what has been registered so far: ``reelsmith.workflows.get_workflow`` is the
    public lookup, which has the built-in workflows registered by importing them.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(unknown_name(name, _REGISTRY, "workflow")) from None


def unknown_name(name: str, valid: Iterable[str], what: str, shown: str | None = None) -> str:
    """"Unknown <what> <shown>. Did you mean ...? Valid <what>s: ..." for a name not in ``valid``."""
    names = sorted(valid)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown {what} {shown or repr(name)}.{hint} Valid {what}s: {', '.join(names)}."


def all_registered() -> list[Workflow]:
    """Every registered workflow, by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
