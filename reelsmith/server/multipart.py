"""Streaming multipart/form-data: file parts go straight to disk, never into memory.

The size limit is enforced while the bytes arrive (the part is abandoned and the partial
file removed as soon as it is exceeded); text fields are capped too.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from reelsmith.errors import InputError, LimitExceededError
from reelsmith.inputs import format_bytes

TEXT_FIELD_LIMIT = 16 * 1024 * 1024


@dataclass
class SavedFile:
    field: str
    filename: str
    path: Path
    size: int
    content_type: str


@dataclass
class FormResult:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[SavedFile] = field(default_factory=list)

    def discard(self) -> None:
        for f in self.files:
            f.path.unlink(missing_ok=True)


async def parse_multipart(request: Request, dest_dir: Path, max_file_bytes: int) -> FormResult:
    """Parse the request body; each file part is written under ``dest_dir``."""
    ctype, opts = parse_options_header(request.headers.get("content-type", ""))
    boundary = opts.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise InputError("The request must be multipart/form-data with a boundary.")
    dest_dir.mkdir(parents=True, exist_ok=True)
    result = FormResult()
    state: dict = {"headers": {}, "hname": b"", "hval": b"", "fh": None, "buf": None,
                   "name": "", "filename": None, "size": 0, "ctype": "", "error": None}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hval"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["hname"].decode("latin-1").lower()] = state["hval"]
        state["hname"], state["hval"] = b"", b""

    def on_headers_finished() -> None:
        disp, params = parse_options_header(state["headers"].get("content-disposition", b""))
        state["name"] = params.get(b"name", b"").decode("utf-8", "replace")
        fn = params.get(b"filename")
        state["filename"] = None if fn is None else fn.decode("utf-8", "replace")
        state["ctype"] = state["headers"].get("content-type", b"").decode("latin-1")
        state["size"] = 0
        if state["filename"] is not None:
            path = dest_dir / f".part-{len(result.files)}-{os.urandom(4).hex()}"
            state["fh"] = open(path, "wb")  # noqa: SIM115 - closed in on_part_end
            state["path"] = path
        else:
            state["buf"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["error"]:
            return
        n = end - start
        state["size"] += n
        if state["fh"] is not None:
            if max_file_bytes and state["size"] > max_file_bytes:
                state["error"] = LimitExceededError(
                    f"The uploaded file is larger than the {format_bytes(max_file_bytes)} limit.")
                return
            state["fh"].write(data[start:end])
        else:
            if state["size"] > TEXT_FIELD_LIMIT:
                state["error"] = LimitExceededError(
                    f"The form field {state['name']!r} is larger than "
                    f"{format_bytes(TEXT_FIELD_LIMIT)}.")
                return
            state["buf"] += data[start:end]

    def on_part_end() -> None:
        if state["fh"] is not None:
            state["fh"].flush()
            os.fsync(state["fh"].fileno())
            state["fh"].close()
            state["fh"] = None
            result.files.append(SavedFile(state["name"], state["filename"] or "upload",
                                          state["path"], state["size"], state["ctype"]))
        elif state["buf"] is not None:
            result.fields[state["name"]] = bytes(state["buf"]).decode("utf-8", "replace")
            state["buf"] = None
        state["headers"] = {}

    parser = MultipartParser(boundary, {
        "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if state["error"]:
                raise state["error"]
        parser.finalize()
    except InputError:
        _cleanup(state, result)
        raise
    except OSError as exc:
        _cleanup(state, result)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise  # the server's disk is full: 507, not the client's fault
        raise InputError(f"The upload could not be stored ({exc.strerror}).") from None
    except Exception as exc:  # malformed body
        _cleanup(state, result)
        raise InputError(f"The multipart body could not be parsed ({exc}).") from None
    return result


def _cleanup(state: dict, result: FormResult) -> None:
    if state.get("fh") is not None:
        state["fh"].close()
        Path(state["path"]).unlink(missing_ok=True)
    result.discard()
