"""Built-in workflows; importing this package registers them."""

from __future__ import annotations

import importlib
import logging

from reelsmith.workflows.base import (
    InputSpec,
    Workflow,
    WorkflowResult,
    get_workflow,
    list_workflows,
    register,
)

__all__ = ["InputSpec", "Workflow", "WorkflowResult", "get_workflow", "list_workflows", "register"]

BUILTIN = [
    "reelsmith.workflows.upscale",
    "reelsmith.workflows.interpolate",
    "reelsmith.workflows.upscale_and_interpolation",
    "reelsmith.workflows.highlights",
]

for _mod in BUILTIN:
    try:
        importlib.import_module(_mod)
    except ModuleNotFoundError as _exc:  # a workflow whose module is not written yet
        if _exc.name != _mod:
            raise
        logging.getLogger(__name__).debug("workflow module %s missing", _mod)
