"""Binding a request's sources to a workflow's declared inputs: the one place that decides
which source feeds which :class:`~reelsmith.workflows.base.InputSpec`.

Every face receives sources in its own dress (a path or URL on the command line, the
``video_*`` fields and ``inputs`` object of a RunPod job, a JSON ``inputs`` object or
multipart file parts, the references stored on a job row). Each face parses that dress
into plain values and hands them here, positionally (in the order of the workflow's
inputs; a trailing ``many`` input takes all the rest) and/or by name. :func:`bind_sources`
checks the *shape* of the request only and never looks inside a value: what a value is
(path, URL, data URI, upload id) and whether it may be used is the business of
:mod:`reelsmith.inputs` and the server's intake policy, which each face applies to the
bound sources afterwards. The media kind of a source is known only once it is resolved
(a URL must be downloaded first); :func:`reelsmith.inputs.require_kind` words that check.

All problems of one request are reported together in one :class:`BindingError`, so a
client fixes them in one round; each problem also names the request field it is about,
which the server turns into field-level 422 errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from reelsmith.errors import InputError
from reelsmith.workflows.base import InputSpec, Workflow

S = TypeVar("S")
T = TypeVar("T")

#: The request field that names an input: ``inputs.<name>``.
FIELD_PREFIX = "inputs."


@dataclass(frozen=True)
class BindingProblem:
    """One reason the sources do not fit: the request field concerned and a sentence."""

    field: str
    message: str


class BindingError(InputError):
    """The sources do not fit the workflow's inputs. ``problems`` lists each one; the
    message is their sentences joined."""

    def __init__(self, problems: Sequence[BindingProblem]) -> None:
        super().__init__(" ".join(p.message for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class BoundInput(Generic[S]):
    """The sources bound to one input: one for a plain input, one or more for a ``many``
    input. ``positional``: given by position rather than by name."""

    spec: InputSpec
    sources: tuple[S, ...]
    positional: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def field(self) -> str:
        """The request field naming this input (``inputs.<name>``)."""
        return FIELD_PREFIX + self.spec.name

    def pack(self, items: Sequence[T]) -> T | list[T]:
        """Per-source results shaped like the input: a list for ``many``, else the one item."""
        return list(items) if self.spec.many else items[0]


def map_sources(bound: Mapping[str, BoundInput],
                fn: Callable[[BoundInput, Any], T]) -> dict[str, T | list[T]]:
    """``fn(input, source)`` for every source of every bound input, shaped like the inputs
    (:meth:`BoundInput.pack`): how each face turns bound sources into files or references."""
    return {name: b.pack([fn(b, src) for src in b.sources]) for name, b in bound.items()}


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _pairs(named: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    if named is None:
        return []
    if isinstance(named, Mapping):
        return list(named.items())
    return list(named)


def _names(wf: Workflow) -> str:
    return ", ".join(s.name for s in wf.inputs) or "none"


def bind_sources(
    workflow: Workflow,
    positional: Sequence[S] = (),
    named: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    *,
    require: bool = True,
) -> dict[str, BoundInput[S]]:
    """Bind ``positional`` and ``named`` sources to ``workflow``'s inputs.

    ``positional`` fills the inputs in order; a trailing ``many`` input takes every
    remaining source. ``named`` maps an input name to one source or, for a ``many`` input,
    a list of sources (a plain input also accepts a list holding exactly one); it may be a
    sequence of ``(name, value)`` pairs so that a name given twice is caught. An empty
    list counts as not given. ``require=False`` skips the check for missing inputs (the
    sources are stored elsewhere).

    Returns the bound inputs in the workflow's order, keyed by name. Raises
    :class:`BindingError` (an InputError) naming every problem: too many sources, an
    unknown input name, an input given twice, a list for a plain input or a single source
    for a ``many`` input, and (with ``require``) a missing required input.
    """
    wf_name = workflow.name
    specs = {s.name: s for s in workflow.inputs}
    problems: list[BindingProblem] = []
    given: dict[str, tuple[tuple[Any, ...], bool]] = {}

    order = list(workflow.inputs)
    rest = list(positional)
    for i, spec in enumerate(order):
        if not rest:
            break
        if spec.many and i == len(order) - 1:
            given[spec.name], rest = (tuple(rest), True), []
        else:
            given[spec.name], rest = ((rest[0],), True), rest[1:]
    if rest:
        n = len(order)
        problems.append(BindingProblem(
            "inputs", f"The {wf_name} workflow takes {n} input{'' if n == 1 else 's'} "
                      f"({_names(workflow)}), got {len(positional)} sources."))

    refused: set[str] = set()  # named, but wrongly: not reported as missing too
    for name, value in _pairs(named):
        spec = specs.get(name)
        shown = str(name)[:50]
        if spec is None:
            problems.append(BindingProblem(
                FIELD_PREFIX + shown, f"The {wf_name} workflow has no input named {shown!r} "
                                      f"(it takes: {_names(workflow)})."))
            continue
        if name in given:
            problems.append(BindingProblem(
                FIELD_PREFIX + name, f"The input {name!r} of the {wf_name} workflow was given twice."))
            continue
        refused.add(name)
        if spec.many:
            if not _is_list(value):
                problems.append(BindingProblem(
                    FIELD_PREFIX + name, f"The input {name!r} of the {wf_name} workflow takes a "
                                         "list of sources."))
                continue
            items = tuple(value)
        elif _is_list(value):
            if len(value) > 1:
                problems.append(BindingProblem(
                    FIELD_PREFIX + name, f"The input {name!r} of the {wf_name} workflow takes one "
                                         f"source, not {len(value)}."))
                continue
            items = tuple(value)
        else:
            items = (value,)
        refused.discard(name)
        if items:
            given[name] = (items, False)

    if require:
        problems += [BindingProblem(FIELD_PREFIX + s.name,
                                    f"The {wf_name} workflow needs the input {s.name!r}.")
                     for s in order if s.required and s.name not in given.keys() | refused]
    if problems:
        raise BindingError(problems)
    return {s.name: BoundInput(s, given[s.name][0], given[s.name][1])
            for s in order if s.name in given}
