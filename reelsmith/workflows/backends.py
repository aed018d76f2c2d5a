"""Which backend ran: one shape in every workflow's result metadata.

A workflow does its work in one or more *roles* ("upscale", "interpolate", "scenes",
"speech", later "face_restore", "diffusion" ...), each served by a backend (the built-in
OpenCV code, ONNX Runtime, PyTorch, diffusers, a named analysis library) and maybe a
model. Every ``WorkflowResult.metadata`` carries:

``backend``   str: the distinct backends of its roles, in role order, joined by "+"
              ("opencv", "onnxruntime+opencv") -- what a summary line or a dashboard shows
``model``     str | None: the distinct model names the same way; None when no role names one
``backends``  {role: {"backend": str, "model": str | None, "provider": str | None}}: the detail

:func:`backend_metadata` builds the three keys from the ``describe()`` dicts the ops and
models already return; :func:`backend_metadata_problems` checks a result against the shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BUILTIN_BACKEND = "opencv"
"""Backend of a description that names none: the built-in classical ops run on OpenCV."""


def describe_of(obj: Any) -> dict[str, Any]:
    """``obj.describe()`` when it has one, else ``{"name": obj.name or its class name}``: the
    description a role is built from."""
    d = getattr(obj, "describe", None)
    return d() if callable(d) else {"name": getattr(obj, "name", type(obj).__name__)}


def _role(desc: Mapping[str, Any]) -> dict[str, Any]:
    return {"backend": str(desc.get("backend") or BUILTIN_BACKEND),
            "model": desc.get("name"),
            "provider": desc.get("provider")}


def _joined(values: list[Any]) -> str | None:
    distinct = list(dict.fromkeys(str(v) for v in values if v))
    return "+".join(distinct) or None


def backend_metadata(roles: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{"backend", "model", "backends"}`` for ``roles``: role -> a ``describe()`` dict.

    From each description it reads ``backend`` (default :data:`BUILTIN_BACKEND`), ``name``
    (the model) and ``provider`` (execution provider or device). Raises ValueError when
    ``roles`` is empty: every workflow ran something.
    """
    if not roles:
        raise ValueError("a workflow result needs at least one backend role")
    detail = {role: _role(desc) for role, desc in roles.items()}
    return {"backend": _joined([d["backend"] for d in detail.values()]),
            "model": _joined([d["model"] for d in detail.values()]),
            "backends": detail}


def backend_metadata_problems(metadata: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``metadata``'s backend keys (empty when it has the shape above)."""
    problems = []
    backend, model, detail = (metadata.get("backend"), metadata.get("model"),
                              metadata.get("backends"))
    if not isinstance(backend, str) or not backend:
        problems.append(f"backend should be a non-empty string, not {backend!r}")
    if model is not None and not isinstance(model, str):
        problems.append(f"model should be a string or None, not {model!r}")
    if not isinstance(detail, dict) or not detail:
        problems.append(f"backends should be a non-empty dict of roles, not {detail!r}")
        return problems
    for role, entry in detail.items():
        if not isinstance(entry, dict) or set(entry) != {"backend", "model", "provider"}:
            problems.append(f"backends[{role!r}] should have exactly backend, model, provider: "
                            f"{entry!r}")
        elif not isinstance(entry["backend"], str) or not entry["backend"]:
            problems.append(f"backends[{role!r}].backend should be a non-empty string")
        elif any(v is not None and not isinstance(v, str)
                 for v in (entry["model"], entry["provider"])):
            problems.append(f"backends[{role!r}] model/provider should be strings or None")
    if not problems and backend != _joined([e["backend"] for e in detail.values()]):
        problems.append(f"backend {backend!r} does not match the roles in backends")
    return problems
