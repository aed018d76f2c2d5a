"""The RunPod worker contract, shared by the serverless worker and the server's /v2 API.

Input object (compatible with the original upscale/interpolation worker)::

    {"task_type": "upscale" | "upscale_and_interpolation",      # or "workflow": NAME, "params": {...}
     "video_path" | "video_url" | "video_base64": ...,           # exactly one
     "network_volume": false, "scale": 2, "multiplier": 2 | "target_fps": 60,
     "crf": 18, "codec": "h264", "model": "auto"}

Result: ``{"video": "data:video/mp4;base64,..."}`` or, with ``network_volume``,
``{"video_path": "/runpod-volume/..."}``, plus ``metadata``; failures return
``{"error": "<sentence>"}``. :func:`run_handler_input` never raises.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from reelsmith.config import get_settings
from reelsmith.engine.context import JobContext
from reelsmith.errors import InputError, ReelsmithError
from reelsmith.media.atomic import commit, discard, temp_path_for
from reelsmith.workflows.base import Workflow
from reelsmith.workflows.binding import BoundInput, bind_sources, map_sources

#: A request's canonical sources bound to the workflow's inputs.
Binding = dict[str, BoundInput[dict[str, Any]]]

log = logging.getLogger(__name__)

# Where RunPod mounts a network volume: network_volume results go here unless the
# output_dir setting names another folder.
RUNPOD_VOLUME = Path("/runpod-volume")
TASK_TYPES = ("upscale", "upscale_and_interpolation")
SOURCE_FIELDS = ("video_path", "video_url", "video_base64")
#: Canonical source kinds; ``upload_id`` exists only on a job server.
SOURCE_KINDS = ("path", "url", "base64", "upload_id")
# Top-level legacy fields and the workflow parameter each one sets.
LEGACY_PARAMS = {"scale": "scale", "height": "height", "multiplier": "multiplier",
                 "target_fps": "fps", "fps": "fps", "crf": "crf", "codec": "codec",
                 "preset": "preset", "model": "model", "interpolation_model": "interpolation_model"}
CONTROL_FIELDS = {"task_type", "workflow", "params", "network_volume", "inputs", "timeout",
                  "output_name", *SOURCE_FIELDS}


def _workflow_name(job_input: Mapping[str, Any]) -> str:
    if job_input.get("workflow"):
        name = job_input["workflow"]
        if not isinstance(name, str):
            raise InputError("'workflow' must be a workflow name (a string).")
        return name
    task = job_input.get("task_type", "upscale")
    if task not in TASK_TYPES:
        raise InputError(f"Unknown task_type {str(task)[:100]!r}; valid task types are: "
                         f"{', '.join(TASK_TYPES)} (or send 'workflow' and 'params' for any other workflow).")
    return task


def _params(job_input: Mapping[str, Any]) -> dict[str, Any]:
    params = job_input.get("params") or {}
    if not isinstance(params, dict):
        raise InputError("'params' must be an object.")
    params = dict(params)
    for key, target in LEGACY_PARAMS.items():
        if key in job_input and job_input[key] is not None:
            params.setdefault(target, job_input[key])
    unknown = sorted(k for k in job_input if k not in CONTROL_FIELDS and k not in LEGACY_PARAMS)
    if unknown:
        raise InputError(f"Unknown input field(s): {', '.join(str(u)[:50] for u in unknown[:10])}.")
    return params


def _source(value: Any, where: str) -> dict[str, Any]:
    """One source in canonical form: exactly one of {"path"|"url"|"base64"|"upload_id": value}."""
    from reelsmith.inputs import classify_source

    if isinstance(value, str):
        kind, text = classify_source(value)
        return {kind: text}
    if isinstance(value, Mapping):
        given = {k.removeprefix("video_"): v for k, v in value.items() if v not in (None, "")}
        if len(given) == 1 and next(iter(given)) in SOURCE_KINDS:
            return given
    raise InputError(f"{where} must be a URL, a path, base64 data, or an object with exactly one of "
                     f"{', '.join(SOURCE_KINDS)}.")


def _sources(job_input: Mapping[str, Any], wf: Workflow, need: bool) -> Binding:
    """Bind the top-level ``video_*`` source (the first input) and the ``inputs`` object
    (by name) to the workflow's inputs, each in canonical form (see :func:`_source`)."""
    from reelsmith.inputs import pick_source

    extra = job_input.get("inputs") or {}
    if not isinstance(extra, Mapping):
        raise InputError("'inputs' must be an object mapping input names to sources.")
    positional: list[dict[str, Any]] = []
    given = [f for f in SOURCE_FIELDS if job_input.get(f) not in (None, "")]
    if given or (need and not extra):
        kind, value = pick_source(job_input, prefix="video")
        positional.append({kind: value})
    named = {name: [_source(v, f"inputs.{name}[{i}]") for i, v in enumerate(spec)]
             if isinstance(spec, list) else _source(spec, f"inputs.{name}")
             for name, spec in extra.items()}
    return bind_sources(wf, positional, named, require=need)


@dataclass
class HandlerRequest:
    """A parsed worker input: which workflow, its parameters, where its inputs come from
    (the canonical sources bound to the workflow's inputs)."""

    workflow: Workflow
    params: BaseModel
    sources: Binding = field(default_factory=dict)
    network_volume: bool = False


def parse_input(job_input: Any, *, need_sources: bool = True) -> HandlerRequest:
    """Check a worker input without touching any file or URL; raises InputError.

    ``need_sources=False``: the sources were taken out and stored separately (the server
    keeps them as job inputs, see :func:`without_sources`)."""
    from reelsmith.workflows import get_workflow

    if not isinstance(job_input, Mapping):
        raise InputError("The job input must be a JSON object.")
    wf = get_workflow(_workflow_name(job_input))
    params = wf.parse_params(_params(job_input))
    network_volume = job_input.get("network_volume", False)
    if not isinstance(network_volume, bool):
        raise InputError("'network_volume' must be true or false.")
    return HandlerRequest(wf, params, _sources(job_input, wf, need_sources), network_volume)


def without_sources(job_input: Mapping[str, Any]) -> dict[str, Any]:
    """The input minus its source fields: what a server stores once the sources are jobs inputs."""
    return {k: v for k, v in job_input.items() if k not in (*SOURCE_FIELDS, "inputs")}


def data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def publish_copy(path: Path, out_dir: Path | None, name: str) -> Path:
    """Copy a result to ``out_dir/name`` atomically (the network volume; without an
    ``output_dir`` setting, RunPod's mount point)."""
    out_dir = out_dir or RUNPOD_VOLUME
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / name
    tmp = temp_path_for(final)
    try:
        shutil.copyfile(path, tmp)
        return commit(tmp, final)
    except BaseException:
        discard(tmp)
        raise


def _resolve_local(bound: BoundInput, source: dict[str, Any], work_dir: Path) -> Path:
    """A canonical source to a local file, as a worker can: no uploads (those live on a
    job server)."""
    from reelsmith.inputs import resolve_source

    (kind, value), = source.items()
    if kind not in SOURCE_KINDS[:3]:
        raise InputError(f"{bound.field}: {kind} sources exist only on a job server.")
    return resolve_source({f"video_{kind}": value}, work_dir=work_dir, kinds=bound.spec.kinds).path


def run_handler_input(job_input: Any, ctx: JobContext, *, job_id: str | None = None) -> dict[str, Any]:
    """Run one RunPod-style job input. Never raises; errors come back as ``{"error": ...}``."""
    settings = get_settings()
    job_id = job_id or uuid.uuid4().hex[:12]
    work_root = settings.data_dir / "work"
    work_dir: Path | None = None
    try:
        req = parse_input(job_input)
        wf = req.workflow
        work_root.mkdir(parents=True, exist_ok=True)
        work_dir = Path(tempfile.mkdtemp(prefix=f"job-{job_id}-", dir=work_root))
        ctx.work_dir = work_dir
        ctx.stage("fetching input", 0.0, 0.02)
        resolved = map_sources(req.sources, lambda b, src: _resolve_local(b, src, work_dir))
        ctx.check()
        suffix = wf.output_suffix(resolved, req.params)
        out_dir = work_dir / "out"
        out_dir.mkdir()
        result = wf.run(ctx, resolved, req.params, out_dir / f"{wf.name}{suffix}")
        response: dict[str, Any] = {"metadata": result.metadata}
        main_role = next(iter(result.outputs))
        if req.network_volume:
            dest = settings.output_dir
            files = {role: str(publish_copy(p, dest, f"{job_id}_{p.name}")) for role, p in result.outputs.items()}
            response["video_path"] = files[main_role]
            if len(files) > 1:
                response["files"] = files
        else:
            response["video"] = data_uri(result.outputs[main_role])
            if len(result.outputs) > 1:
                response["files"] = {r: data_uri(p) for r, p in result.outputs.items() if r != main_role}
        out_meta = response["metadata"].get("output")
        if isinstance(out_meta, dict):  # the work dir is gone after this call
            out_meta["path"] = response.get("video_path")
        return response
    except ReelsmithError as exc:  # incl. Cancelled / TimedOut: error_type says which
        return {"error": str(exc), "error_type": exc.code}
    except Exception as exc:  # noqa: BLE001 - the contract: never raise
        log.exception("job %s failed", job_id)
        return {"error": f"The job failed unexpectedly ({type(exc).__name__}: {exc}).",
                "error_type": "internal_error"}
    finally:
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
