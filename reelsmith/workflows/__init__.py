"""The workflow catalogue. Importing this package registers the built-in workflows; a plugin
registers its own with ``@register`` from :mod:`reelsmith.workflows.base` when imported
(``reelsmith serve --import-module``).

``get_workflow`` and ``list_workflows`` live here, not in ``base``, so that the registry never
has to import the workflows that register into it: imports point one way only.
"""

from __future__ import annotations

from reelsmith.workflows import (  # noqa: F401 - imported to register them
    highlights,
    interpolate,
    upscale,
    upscale_and_interpolation,
)
from reelsmith.workflows.base import (
    InputSpec,
    Workflow,
    WorkflowResult,
    all_registered,
    register,
    registered,
)

__all__ = ["InputSpec", "Workflow", "WorkflowResult", "get_workflow", "list_workflows", "register"]


def get_workflow(name: str) -> Workflow:
    """The workflow called ``name`` (InputError naming the valid ones otherwise)."""
    return registered(name)


def list_workflows() -> list[Workflow]:
    """Every registered workflow, built-in and plugged in, by name."""
    return all_registered()
