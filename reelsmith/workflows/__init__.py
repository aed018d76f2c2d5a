"""The workflow catalogue.

Importing this package imports every module in it, and each workflow module registers its
workflow with ``@register`` (from :mod:`reelsmith.workflows.base`): a new built-in workflow is
one file here plus its tests. Plugins register the same way when imported
(``reelsmith serve --import-module``).

``get_workflow`` and ``list_workflows`` live here, not in ``base``, so that the registry never
imports the workflows that register into it: imports point one way only.
"""

from __future__ import annotations

import importlib
import pkgutil

from reelsmith.workflows.base import (
    InputSpec,
    Workflow,
    WorkflowResult,
    all_registered,
    register,
    registered,
)

__all__ = ["InputSpec", "Workflow", "WorkflowResult", "get_workflow", "list_workflows", "register"]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def get_workflow(name: str) -> Workflow:
    """The workflow called ``name`` (InputError naming the valid ones otherwise)."""
    return registered(name)


def list_workflows() -> list[Workflow]:
    """Every registered workflow, built-in and plugged in, by name."""
    return all_registered()
