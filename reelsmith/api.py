"""The Python API: one call runs a workflow on local files (or URLs / base64 data).

    >>> import reelsmith
    >>> r = reelsmith.run("upscale", "in.mp4", scale=2, output="out.mp4")
    >>> r.output, r.metadata["backend"]
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reelsmith.config import get_settings
from reelsmith.engine.context import JobContext, ProgressCallback
from reelsmith.workflows import get_workflow, list_workflows
from reelsmith.workflows.base import Workflow, WorkflowResult
from reelsmith.workflows.binding import bind_sources, map_sources

__all__ = ["run", "list_workflows", "default_output"]


def default_output(workflow: Workflow, inputs: Mapping[str, Path], params: Any) -> Path:
    """``<input stem>_<workflow><suffix>`` next to the first input."""
    first = Path(next(iter(inputs.values())))
    suffix = workflow.output_suffix(inputs, params)
    return first.with_name(f"{first.stem}_{workflow.name}{suffix}")


def _is_remote(value: str) -> bool:
    return value.startswith(("http://", "https://", "data:"))


def _resolve(value: str | os.PathLike, kinds: tuple[str, ...], work_dir: Path) -> Path:
    from reelsmith import inputs as _inputs

    s = str(value)
    if _is_remote(s):
        field = "video_url" if s.startswith("http") else "video_base64"
        return _inputs.resolve_source({field: s}, work_dir=work_dir, kinds=kinds).path
    return _inputs.resolve_source({"video_path": s}, work_dir=work_dir, kinds=kinds).path


def run(
    workflow: str,
    *sources: str | os.PathLike,
    output: str | os.PathLike | None = None,
    inputs: Mapping[str, str | os.PathLike] | None = None,
    progress: ProgressCallback | None = None,
    cancel_event: threading.Event | None = None,
    timeout: float | None = None,
    params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> WorkflowResult:
    """Run ``workflow`` and return its :class:`WorkflowResult`.

    Sources are given positionally (in the order of the workflow's inputs; a trailing
    ``many`` input takes the rest) or by name via ``inputs`` (see
    :func:`reelsmith.workflows.binding.bind_sources`); each may be a path, an http(s) URL
    or a data URI. Raises InputError when they do not fit the workflow's inputs. Parameters come as
    keyword arguments (or a ``params`` mapping). ``output`` defaults to a sibling of the
    first input named after the workflow.
    """
    wf = get_workflow(workflow)
    p = wf.parse_params({**(params or {}), **kwargs})
    bound = bind_sources(wf, sources, inputs)
    settings = get_settings()
    work_dir = Path(tempfile.mkdtemp(prefix="reelsmith-"))
    try:
        resolved = map_sources(bound, lambda b, src: _resolve(src, b.spec.kinds, work_dir))
        if output:
            out = Path(output)
        else:
            out = default_output(wf, resolved, p)
            first = next(iter(bound.values())).sources[0]
            out = (Path(first).with_name(out.name) if not _is_remote(str(first))
                   else Path.cwd() / out.name)
        if out.exists() and out.is_dir():
            out = out / default_output(wf, resolved, p).name
        ctx = JobContext(on_progress=progress, cancel_event=cancel_event,
                         timeout_s=timeout if timeout is not None else settings.job_timeout_s,
                         work_dir=work_dir)
        return wf.run(ctx, resolved, p, out)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
