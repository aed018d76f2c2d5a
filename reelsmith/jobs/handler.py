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
from pathlib import Path
from typing import Any

from reelsmith.config import get_settings
from reelsmith.engine.context import JobContext
from reelsmith.errors import InputError, ReelsmithError
from reelsmith.media.atomic import commit, discard, temp_path_for

log = logging.getLogger(__name__)

TASK_TYPES = ("upscale", "upscale_and_interpolation")
SOURCE_FIELDS = ("video_path", "video_url", "video_base64")
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
        raise InputError(f"Unknown task_type {task!r}; valid task types are: {', '.join(TASK_TYPES)} "
                         "(or send 'workflow' and 'params' for any other workflow).")
    return task


def _params(job_input: Mapping[str, Any], workflow: str) -> dict[str, Any]:
    params = job_input.get("params") or {}
    if not isinstance(params, dict):
        raise InputError("'params' must be an object.")
    params = dict(params)
    for key, target in LEGACY_PARAMS.items():
        if key in job_input and job_input[key] is not None:
            params.setdefault(target, job_input[key])
    unknown = sorted(k for k in job_input if k not in CONTROL_FIELDS and k not in LEGACY_PARAMS)
    if unknown:
        raise InputError(f"Unknown input field(s): {', '.join(unknown)}.")
    return params


def _sources(job_input: Mapping[str, Any], wf) -> dict[str, dict[str, Any]]:
    """Map workflow input names to source specs ({'video_url': ...})."""
    from reelsmith.inputs import pick_source

    out: dict[str, dict[str, Any]] = {}
    extra = job_input.get("inputs") or {}
    if not isinstance(extra, dict):
        raise InputError("'inputs' must be an object mapping input names to sources.")
    given = [f for f in SOURCE_FIELDS if job_input.get(f) not in (None, "")]
    if given or not extra:
        kind, value = pick_source(job_input, prefix="video")
        out[wf.inputs[0].name] = {f"video_{kind}": value}
    for name, spec in extra.items():
        if name not in {i.name for i in wf.inputs}:
            raise InputError(f"The {wf.name} workflow has no input named {name!r}.")
        if isinstance(spec, str):
            spec = {"video_url" if spec.startswith("http") else "video_path": spec}
        out[name] = spec
    return out


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _publish(path: Path, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / name
    tmp = temp_path_for(final)
    try:
        shutil.copyfile(path, tmp)
        return commit(tmp, final)
    except BaseException:
        discard(tmp)
        raise


def run_handler_input(job_input: Any, ctx: JobContext, *, job_id: str | None = None) -> dict[str, Any]:
    """Run one RunPod-style job input. Never raises; errors come back as ``{"error": ...}``."""
    settings = get_settings()
    job_id = job_id or uuid.uuid4().hex[:12]
    work_root = settings.data_dir / "work"
    work_dir: Path | None = None
    try:
        if not isinstance(job_input, Mapping):
            raise InputError("The job input must be a JSON object.")
        from reelsmith.inputs import resolve_source
        from reelsmith.workflows import get_workflow

        wf = get_workflow(_workflow_name(job_input))
        params = wf.parse_params(_params(job_input, wf.name))
        sources = _sources(job_input, wf)
        network_volume = job_input.get("network_volume", False)
        if not isinstance(network_volume, bool):
            raise InputError("'network_volume' must be true or false.")
        work_root.mkdir(parents=True, exist_ok=True)
        work_dir = Path(tempfile.mkdtemp(prefix=f"job-{job_id}-", dir=work_root))
        ctx.work_dir = work_dir
        ctx.stage("fetching input", 0.0, 0.02)
        resolved = {}
        for spec in wf.inputs:
            if spec.name in sources:
                resolved[spec.name] = resolve_source(sources[spec.name], work_dir=work_dir,
                                                     kinds=spec.kinds).path
            elif spec.required:
                raise InputError(f"The {wf.name} workflow needs the input {spec.name!r}.")
        ctx.check()
        suffix = wf.output_suffix(resolved, params)
        out_dir = work_dir / "out"
        out_dir.mkdir()
        result = wf.run(ctx, resolved, params, out_dir / f"{wf.name}{suffix}")
        response: dict[str, Any] = {"metadata": result.metadata}
        main_role = next(iter(result.outputs))
        if network_volume:
            dest = settings.output_dir
            files = {role: str(_publish(p, dest, f"{job_id}_{p.name}")) for role, p in result.outputs.items()}
            response["video_path"] = files[main_role]
            if len(files) > 1:
                response["files"] = files
        else:
            response["video"] = _data_uri(result.outputs[main_role])
            if len(result.outputs) > 1:
                response["files"] = {r: _data_uri(p) for r, p in result.outputs.items() if r != main_role}
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
